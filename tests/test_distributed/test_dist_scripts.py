"""tools/dist_train.sh and tools/dist_test.sh build the torchrun command
line like MMSeg's (CONFIG GPUS / CONFIG CHECKPOINT GPUS, NNODES, NODE_RANK,
PORT, MASTER_ADDR) and pass the remaining arguments through unchanged.
A stand-in ``PYTHON`` prints its arguments instead of launching."""
import os
import os.path as osp
import subprocess

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(ROOT, 'tools')


@pytest.fixture
def fake_python(tmp_path):
    path = tmp_path / 'fake_python'
    path.write_text('#!/bin/sh\nprintf "PYTHONPATH=%s\\n" "$PYTHONPATH"\n'
                    'printf "%s\\n" "$@"\n')
    path.chmod(0o755)
    return str(path)


def _run(script, args, fake_python, **env):
    full = dict(os.environ, PYTHON=fake_python, PYTHONPATH='/somewhere')
    for k in ('NNODES', 'NODE_RANK', 'PORT', 'MASTER_ADDR'):
        full.pop(k, None)
    full.update(env)
    return subprocess.run(['bash', osp.join(TOOLS, script), *args],
                          capture_output=True, text=True, env=full,
                          timeout=60)


def test_dist_train_defaults(fake_python):
    res = _run('dist_train.sh', ['cfg.py', '2'], fake_python)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f'PYTHONPATH={TOOLS}/..:/somewhere'
    assert lines[1:] == [
        '-m', 'torch.distributed.run', '--nnodes=1', '--node_rank=0',
        '--master_addr=127.0.0.1', '--nproc_per_node=2',
        '--master_port=29500', f'{TOOLS}/train.py', 'cfg.py', '--launcher',
        'pytorch'
    ]


def test_dist_train_multi_node_and_extra_args(fake_python):
    res = _run(
        'dist_train.sh',
        ['cfg.py', '8', '--work-dir', 'a dir', '--cfg-options', 'x.y=1'],
        fake_python,
        NNODES='2',
        NODE_RANK='1',
        PORT='1234',
        MASTER_ADDR='10.0.0.1')
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[1:] == [
        '-m', 'torch.distributed.run', '--nnodes=2', '--node_rank=1',
        '--master_addr=10.0.0.1', '--nproc_per_node=8', '--master_port=1234',
        f'{TOOLS}/train.py', 'cfg.py', '--launcher', 'pytorch', '--work-dir',
        'a dir', '--cfg-options', 'x.y=1'
    ]


def test_dist_test_args(fake_python):
    res = _run('dist_test.sh', ['cfg.py', 'ckpt.pth', '4', '--out', 'o'],
               fake_python, PORT='2345')
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[1:] == [
        '-m', 'torch.distributed.run', '--nnodes=1', '--node_rank=0',
        '--master_addr=127.0.0.1', '--nproc_per_node=4',
        '--master_port=2345', f'{TOOLS}/test.py', 'cfg.py', 'ckpt.pth',
        '--launcher', 'pytorch', '--out', 'o'
    ]


@pytest.mark.parametrize('script, args', [('dist_train.sh', ['cfg.py']),
                                          ('dist_test.sh', ['c.py', 'k'])])
def test_usage(fake_python, script, args):
    res = _run(script, args, fake_python)
    assert res.returncode == 2
    assert 'usage:' in res.stderr and res.stdout == ''
