"""The models the CPU benchmark measures: the released CSNet configs and
MMSeg's light models, with the weights each gets."""
import os.path as osp
from typing import Dict, Optional, Tuple

import torch
from torch import nn

__all__ = [
    'REPO_ROOT', 'CSNET', 'PEERS', 'ALL_MODELS', 'build_csnet', 'build_peer'
]

#: The repository this package is checked out in (configs, work_dirs).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: CSNet models: config (relative to the repository) and released tag.
CSNET: Dict[str, dict] = {
    'csnet_l_x1': dict(config='configs/csnet_l_x1.py', official='x1'),
    'csnet_l_x2': dict(config='configs/csnet_l_x2.py', official='x2'),
}
#: MMSeg's light models: config (relative to MMSeg's ``.mim/configs``).
PEERS: Dict[str, dict] = {
    'fastscnn':
    dict(
        config='fastscnn/fast_scnn_8xb4-160k_cityscapes-512x1024.py',
        label='Fast-SCNN'),
    'lraspp_mv3s':
    dict(
        config='mobilenet_v3/'
        'mobilenet-v3-d8-s_lraspp_4xb4-320k_cityscapes-512x1024.py',
        label='LR-ASPP MobileNetV3-S'),
}
ALL_MODELS = list(CSNET) + list(PEERS)


def _mmseg_configs() -> str:
    import mmseg
    return osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs')


def _plain_bn(cfg) -> None:
    if isinstance(cfg, dict):
        for k, v in cfg.items():
            if k == 'norm_cfg' and isinstance(
                    v, dict) and v.get('type') == 'SyncBN':
                v['type'] = 'BN'
            else:
                _plain_bn(v)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            _plain_bn(v)


def build_csnet(name: str,
                checkpoints: Optional[Dict[str, str]] = None,
                random_weights: bool = False,
                official_dir: Optional[str] = None) -> Tuple[nn.Module, str]:
    """A CSNet of :data:`CSNET` in eval mode and a description of its
    weights.

    The weights: random with ``random_weights``; else ``checkpoints[name]``,
    else ``work_dirs/converted/NAME.pth`` of the repository, else the
    released checkpoint converted on the fly from ``official_dir``
    (``csnet-L-x1.pth.tar`` + ``csnet-L-x1.bin``), else random (said in the
    description).

    Args:
        name (str): A key of :data:`CSNET`.
        checkpoints (dict, optional): ``{name: checkpoint file}``.
        random_weights (bool): Random BN statistics and PReLU slopes.
        official_dir (str, optional): Folder of the released checkpoints.

    Returns:
        tuple[nn.Module, str]: The segmentor and its weights' description.
    """
    from ..apis.builder import build_segmentor
    config = osp.join(REPO_ROOT, CSNET[name]['config'])
    if random_weights:
        return build_segmentor(config, random_weights=True), 'random'
    path = (checkpoints or {}).get(name) or osp.join(
        REPO_ROOT, 'work_dirs', 'converted', f'{name}.pth')
    if osp.isfile(path):
        return build_segmentor(config, path), \
            f'`{osp.relpath(path, REPO_ROOT)}`'
    tag = CSNET[name]['official']
    src = osp.join(official_dir or '', f'csnet-L-{tag}.pth.tar')
    if official_dir and osp.isfile(src):
        from ..converters import (convert_official_state_dict,
                                  load_official_checkpoint,
                                  load_official_table)
        model = build_segmentor(config)
        table = load_official_table(
            osp.join(official_dir, f'csnet-L-{tag}.bin'))
        sd = convert_official_state_dict(load_official_checkpoint(src), table)
        model.load_state_dict(sd, strict=True)
        return model.eval(), f'released csnet-L-{tag} (converted)'
    return build_segmentor(config, random_weights=True), \
        'random (no checkpoint found)'


def build_peer(name: str) -> nn.Module:
    """A peer of :data:`PEERS` from MMSeg's config: ``num_classes=2``, BN
    instead of SyncBN, no auxiliary head, random weights, eval mode."""
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from ..testing import randomise_weights
    cfg = Config.fromfile(osp.join(_mmseg_configs(), PEERS[name]['config']))
    mcfg = cfg.model
    mcfg.pop('auxiliary_head', None)
    mcfg.pop('pretrained', None)
    mcfg.backbone.pop('init_cfg', None)
    mcfg.decode_head.num_classes = 2
    _plain_bn(mcfg)
    torch.manual_seed(0)
    model = MODELS.build(mcfg)
    randomise_weights(model, convs=False)
    return model.eval()
