"""The reader of the released layer tables
(:func:`csnet_mmseg.converters.table_file.load_numpy_pickle`): NumPy arrays,
containers, numbers and strings only; a pickle payload is refused, naming the
file, before it runs - directly and through the converter tool."""
import pickle
import re

import numpy as np
import pytest
import torch
from tool_helpers import build_model, run_tool, save_payload_pickle, tool

from csnet_mmseg.checkpoint import UnsafeCheckpointError
from csnet_mmseg.converters.table_file import load_numpy_pickle


def test_reads_arrays_and_containers(tmp_path):
    table = [np.array([3, 0, 0]), [np.array([8, 4]), np.int64(2)],
             dict(name='x', depth=(3, 4, 6, 4), gain=np.float64(0.5))]
    path = tmp_path / 'table.bin'
    with open(path, 'wb') as f:
        pickle.dump(table, f)
    out = load_numpy_pickle(str(path))
    assert np.array_equal(out[0], table[0])
    assert np.array_equal(out[1][0], table[1][0]) and out[1][1] == 2
    assert out[2] == dict(name='x', depth=(3, 4, 6, 4), gain=0.5)


def test_refuses_a_payload_naming_the_file(tmp_path):
    marker = tmp_path / 'PWNED'
    path = save_payload_pickle(tmp_path / 'evil.bin', marker, [[1]])
    msg = re.escape(f"'{path}': Refused to unpickle builtins.exec")
    with pytest.raises(UnsafeCheckpointError, match=msg):
        load_numpy_pickle(path)
    assert not marker.exists()


def test_converter_refuses_table_payload(tmp_path):
    """A clean checkpoint with a layer table (a pickle) holding a payload."""
    converter = tool('model_converters/csnet2mmseg.py')
    marker = tmp_path / 'PWNED'
    clean = tmp_path / 'clean.pth.tar'
    torch.save(dict(state_dict=build_model().state_dict()), str(clean),
               _use_new_zipfile_serialization=False)
    table = save_payload_pickle(tmp_path / 'evil_table.bin', marker, [[1]])
    res = run_tool(converter, clean, tmp_path / 'out.pth', '--layer-config',
                   table)
    out = res.stdout + res.stderr
    assert res.returncode != 0 and 'Traceback' not in out, out[-2000:]
    assert f"'{table}'" in out and 'builtins.exec' in out, out[-2000:]
    assert not marker.exists()
    assert not (tmp_path / 'out.pth').exists()
