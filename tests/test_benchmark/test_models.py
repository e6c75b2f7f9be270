"""csnet_mmseg.benchmark.models: the benchmark's CSNet weights and peers."""
import torch

from csnet_mmseg.benchmark import build_csnet


def test_csnet_weights_in_order(tmp_path):
    seg, desc = build_csnet('csnet_l_x1', random_weights=True)
    assert desc == 'random' and not seg.training
    ckpt = tmp_path / 'x1.pth'
    torch.save(dict(state_dict=seg.state_dict(), meta=dict()), str(ckpt))
    loaded, desc = build_csnet('csnet_l_x1', {'csnet_l_x1': str(ckpt)})
    assert desc.startswith('`') and desc.endswith('x1.pth`')
    for k, v in seg.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    _, desc = build_csnet('csnet_l_x1', official_dir=str(tmp_path))
    assert desc == 'random (no checkpoint found)'
    _, desc = build_csnet('csnet_l_x1')
    assert desc == 'random (no checkpoint found)'  # no ../shared default


def test_released_weights(official_dir):
    seg, desc = build_csnet('csnet_l_x1', official_dir=official_dir)
    assert desc == 'released csnet-L-x1 (converted)'
    assert sum(p.numel() for p in seg.parameters()) == 93647
