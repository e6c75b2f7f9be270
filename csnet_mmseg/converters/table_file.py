"""The reader of the released CSNet layer tables (``csnet-L-x*.bin``).

The authors ship each checkpoint's learned layer table as a pickle of NumPy
arrays. :func:`load_numpy_pickle` unpickles such a file allowing only
containers, numbers, strings and NumPy arrays, so that a file holding a
payload (a class, a function such as ``os.system``) is refused before
anything runs.
"""
import pickle

from ..checkpoint import UnsafeCheckpointError

__all__ = ['load_numpy_pickle']


#: (module, name) pairs a pickled NumPy array refers to, under NumPy 1 and 2
#: names: all :func:`load_numpy_pickle` accepts.
_NUMPY_PICKLE_GLOBALS = {
    ('numpy', 'ndarray'), ('numpy', 'dtype'),
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar')
}


class _NumpyUnpickler(pickle.Unpickler):
    """Unpickles containers, numbers, strings and NumPy arrays only."""

    def find_class(self, module: str, name: str):
        if (module, name) in _NUMPY_PICKLE_GLOBALS:
            if module == 'numpy.core.multiarray':
                try:  # numpy 2 name, without numpy.core's warning
                    from numpy._core import multiarray
                except ImportError:  # numpy < 2
                    from numpy.core import multiarray
                return getattr(multiarray, name)
            return super().find_class(module, name)
        raise UnsafeCheckpointError(
            f"Refused to unpickle {module}.{name}: only containers, numbers, "
            'strings and NumPy arrays are allowed (anything else could run '
            'code)')


def load_numpy_pickle(filename: str):
    """A pickle file holding only containers, numbers, strings and NumPy
    arrays (e.g. a released CSNet layer table); any other global (a class,
    a function such as ``os.system``) is refused with
    :class:`UnsafeCheckpointError` naming the file, before it is called.

    Args:
        filename (str): The pickle file.

    Returns:
        The unpickled object.
    """
    with open(filename, 'rb') as f:
        try:
            return _NumpyUnpickler(f).load()
        except UnsafeCheckpointError as e:
            raise UnsafeCheckpointError(f"'{filename}': {e}") from None
