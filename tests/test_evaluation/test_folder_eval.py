"""csnet_mmseg.evaluation.folder.evaluate_folder: SODMetric's MAE and max F
of any backend's logits on an images/ + GT/ folder."""
import cv2
import numpy as np
import pytest
import torch


@pytest.fixture
def folder(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'GT').mkdir()
    fg = []
    for k, (h, w) in enumerate([(30, 44), (50, 38)]):
        gt = np.zeros((h, w), np.uint8)
        gt[h // 4:h // 2, w // 4:w // 2] = 255
        fg.append((gt > 0).mean())
        cv2.imwrite(str(tmp_path / 'images' / f'e{k}.jpg'),
                    np.full((h, w, 3), 100, np.uint8))
        cv2.imwrite(str(tmp_path / 'GT' / f'e{k}.png'), gt)
    return str(tmp_path), fg


def test_constant_saliency(folder):
    from csnet_mmseg.evaluation.folder import evaluate_folder
    root, fg = folder
    seen = []

    def logits(x):  # saliency 1 everywhere
        seen.append(tuple(x.shape))
        return torch.full((1, 1, *x.shape[-2:]), 30.0)

    res = evaluate_folder(logits, root, progress=False)
    assert seen == [(1, 3, 224, 224)] * 2 and res['n'] == 2
    # every pixel predicted salient: the error is the background share
    assert res['MAE'] == pytest.approx(np.mean([1 - f for f in fg]),
                                       abs=1e-6)
    res = evaluate_folder(lambda x: torch.full((1, 1, 32, 32), -30.0),
                          root, size=(32, 32), progress=False)
    assert res['MAE'] == pytest.approx(np.mean(fg), abs=1e-6)
