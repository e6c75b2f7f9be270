import os
import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import csnet_mmseg  # noqa: E402,F401  (fills the registries)
from mmseg.utils import register_all_modules  # noqa: E402

register_all_modules(init_default_scope=True)

SHARED = osp.normpath(osp.join(ROOT, '..', 'shared'))
OFFICIAL = osp.join(SHARED, 'reference', 'official_csnet')
PASCAL_S_DEV = osp.join(SHARED, 'data', 'pascal-s-dev')


def _threads():
    import torch
    torch.set_num_threads(1)


_threads()


@pytest.fixture
def official_dir():
    if not osp.isdir(OFFICIAL):
        pytest.skip(f'../shared is absent: no released checkpoints at {OFFICIAL}')
    return OFFICIAL


@pytest.fixture
def pascal_s_dev():
    if not osp.isdir(PASCAL_S_DEV):
        pytest.skip(f'../shared is absent: no PASCAL-S subset at {PASCAL_S_DEV}')
    return PASCAL_S_DEV
