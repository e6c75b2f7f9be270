"""One rule for reading image files, used by training, testing and inference.

A file that is missing raises ``FileNotFoundError``; a file that is empty,
cut short, or not an image raises ``OSError``; both messages name the file.
Decoders are lenient with files cut short: libjpeg decodes a truncated JPEG
and fills the missing part with grey, printing only ``Premature end of JPEG
file`` on stderr. :func:`check_image_bytes` therefore checks the structure
of the two formats where this happens before decoding:

- JPEG: the end-of-image marker (``FF D9``) must follow the last
  start-of-scan marker (``FF DA``). Inside the compressed data a ``FF`` byte
  is always followed by ``00`` or a restart marker, so the marker cannot
  appear there by chance; bytes after the end-of-image marker are allowed.
- PNG: the ``IEND`` chunk must follow the last ``IDAT`` chunk.

Damage inside a complete JPEG (no checksum) cannot be told from a real
image and is decoded as is (see ``docs/robustness.md``).
"""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np

__all__ = ['check_image_bytes', 'decode_image', 'read_image_bytes',
           'read_image']

_JPEG_SOI = b'\xff\xd8'
_JPEG_SOS = b'\xff\xda'
_JPEG_EOI = b'\xff\xd9'
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _cannot_read(path: str, what: str, reason: str) -> OSError:
    return OSError(f"Cannot read the {what} '{path}' (not an image or "
                   f'corrupt): {reason}')


def check_image_bytes(data: bytes, path: str, what: str = 'image') -> None:
    """Raise ``OSError`` naming ``path`` if ``data`` is empty or a JPEG/PNG
    file cut short.

    Args:
        data (bytes): The file's content.
        path (str): The file name, for the message.
        what (str): What the file is, for the message. Defaults to 'image'.
    """
    if not data:
        raise _cannot_read(path, what, 'the file is empty')
    if data.startswith(_JPEG_SOI):
        sos = data.rfind(_JPEG_SOS)
        if sos < 0 or data.find(_JPEG_EOI, sos + 2) < 0:
            raise _cannot_read(
                path, what, 'truncated JPEG file (no end-of-image marker '
                'after the image data)')
    elif data.startswith(_PNG_SIGNATURE):
        if data.rfind(b'IEND') < data.rfind(b'IDAT'):
            raise _cannot_read(path, what,
                               'truncated PNG file (no IEND chunk)')


def read_image_bytes(path: str,
                     backend_args: Optional[dict] = None,
                     what: str = 'image') -> bytes:
    """The content of an image file, checked by :func:`check_image_bytes`.

    Args:
        path (str): File name (local or any mmengine file backend).
        backend_args (dict, optional): mmengine file backend arguments.
        what (str): What the file is, for messages. Defaults to 'image'.

    Returns:
        bytes: The file's content.
    """
    try:
        data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as e:
        raise FileNotFoundError(
            f"{what[0].upper() + what[1:]} '{path}' does not exist") from e
    except IsADirectoryError as e:
        raise _cannot_read(path, what, 'it is a folder') from e
    check_image_bytes(data, path, what)
    return data


def decode_image(data: bytes,
                 path: str,
                 flag: str = 'color',
                 channel_order: str = 'bgr',
                 backend: str = 'cv2',
                 what: str = 'image') -> np.ndarray:
    """Decode checked image bytes with :func:`mmcv.imfrombytes`; ``OSError``
    naming ``path`` if the decoder fails."""
    try:
        img = mmcv.imfrombytes(
            data, flag=flag, channel_order=channel_order, backend=backend)
    except Exception as e:  # cv2.error, PIL errors, ...
        raise _cannot_read(path, what, f'{type(e).__name__}: {e}') from e
    if img is None or img.size == 0:
        raise _cannot_read(path, what, 'the decoder could not read it')
    return img


def read_image(path: str,
               flag: str = 'color',
               channel_order: str = 'bgr',
               backend: str = 'cv2',
               backend_args: Optional[dict] = None) -> np.ndarray:
    """Read an image file with the project's rule (see the module doc).

    Args:
        path (str): Image file.
        flag (str): :func:`mmcv.imfrombytes` flag: ``'color'`` (grey, RGBA
            and 16-bit images become 8-bit, 3 channels), ``'grayscale'``,
            ``'unchanged'`` ... Defaults to 'color'.
        channel_order (str): ``'bgr'`` or ``'rgb'``. Defaults to 'bgr'.
        backend (str): Decoder (``'cv2'``, ``'pillow'`` ...). Defaults to
            'cv2'.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        np.ndarray: The decoded image.

    Raises:
        FileNotFoundError: The file does not exist.
        OSError: The file is empty, cut short, or cannot be decoded.
    """
    data = read_image_bytes(path, backend_args)
    return decode_image(data, path, flag, channel_order, backend)
