"""The models and forms that ``benchmark.py`` and ``benchmark_memory.py``
measure: the released CSNet configs (training form, deploy form, ONNX
Runtime, OpenVINO) and MMSeg's light models, each built once with its
callables.

OpenVINO (f32 precision hint, the exact form): CSNet's deploy form from its
ONNX file exported for each size with a dynamic batch (the fastest graph:
exact transposed-convolution upsampling; converted from the PyTorch module
directly if the export fails); a peer converted from its PyTorch module by
OpenVINO's PyTorch frontend at each input shape (Fast-SCNN does not export to
ONNX, so this is its only non-PyTorch form).

CSNet weights: ``--checkpoint NAME=PATH``, else
``work_dirs/converted/NAME.pth``, else converted on the fly from
``../shared/reference/official_csnet``, else random (said in the report).
Peers (random weights, latency does not depend on them) are built from
MMSeg's own configs with ``num_classes=2``, BN instead of SyncBN and no
auxiliary head.
"""
import contextlib
import io
import os
import os.path as osp
import sys
import warnings

import torch
from torch import nn

from csnet_mmseg.apis import segmentor_logits
from csnet_mmseg.testing import randomise_weights

ROOT = osp.normpath(osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

CSNET = {
    'csnet_l_x1': dict(config='configs/csnet_l_x1.py', official='x1'),
    'csnet_l_x2': dict(config='configs/csnet_l_x2.py', official='x2'),
}
PEERS = {
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
ALL_FORMS = ['train', 'train-ftz', 'deploy', 'ort', 'openvino']


def add_weight_args(parser) -> None:
    """The options that choose the CSNet weights (both tools take them)."""
    parser.add_argument(
        '--checkpoint',
        action='append',
        default=[],
        metavar='NAME=PATH',
        help='CSNet checkpoint, e.g. csnet_l_x1=work_dirs/x1.pth')
    parser.add_argument(
        '--random-weights',
        action='store_true',
        help='CSNet with random weights and BN statistics (no checkpoint)')


def checkpoint_paths(parser, items) -> dict:
    """``--checkpoint NAME=PATH`` items as ``{NAME: PATH}`` (checked)."""
    ckpts = {}
    for item in items:
        name, sep, path = item.partition('=')
        if not sep or name not in CSNET:
            parser.error(f'--checkpoint wants NAME=PATH with NAME in '
                         f'{list(CSNET)}, got {item!r}')
        if not osp.isfile(path):
            parser.error(f'--checkpoint {name}: no such file {path}')
        ckpts[name] = path
    return ckpts


def _mmseg_configs() -> str:
    import mmseg
    return osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs')


def _plain_bn(cfg):
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


def build_csnet(name: str, checkpoints: dict, random_weights: bool):
    """(segmentor in eval mode, description of its weights)."""
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, CSNET[name]['config']))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)  # layers initialise themselves
    if random_weights:
        randomise_weights(model, convs=False)
        return model.eval(), 'random'
    path = checkpoints.get(name) or osp.join(ROOT, 'work_dirs', 'converted',
                                             f'{name}.pth')
    if osp.isfile(path):
        load_checkpoint(model, path, map_location='cpu', logger='silent')
        return model.eval(), f'`{osp.relpath(path, ROOT)}`'
    official = osp.join(ROOT, '..', 'shared', 'reference', 'official_csnet')
    tag = CSNET[name]['official']
    src = osp.join(official, f'csnet-L-{tag}.pth.tar')
    if osp.isfile(src):
        from csnet_mmseg.converters import (
            convert_official_state_dict, load_official_checkpoint,
            load_official_table)
        table = load_official_table(osp.join(official, f'csnet-L-{tag}.bin'))
        sd = convert_official_state_dict(load_official_checkpoint(src), table)
        model.load_state_dict(sd, strict=True)
        return model.eval(), f'released csnet-L-{tag} (converted)'
    randomise_weights(model, convs=False)
    return model.eval(), 'random (no checkpoint found)'


def build_peer(name: str):
    from mmengine.config import Config
    from mmseg.registry import MODELS
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


class FullSize(nn.Module):
    """A segmentor's eval output at the input size (logits resized)."""

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, x):
        return segmentor_logits(self.segmentor, x)


@contextlib.contextmanager
def silenced_fds():
    """Send what is written to the stdout/stderr file descriptors (Python
    and C++ alike) to /dev/null."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved + [null]:
            os.close(fd)


class Runner:
    """Callables of one model's forms, built once."""

    def __init__(self, name: str, args, tmpdir: str) -> None:
        self.name = name
        self.is_csnet = name in CSNET
        self.args = args
        self.tmpdir = tmpdir
        if self.is_csnet:
            seg, self.weights = build_csnet(name, args.checkpoints,
                                            args.random_weights)
            self.label = name
        else:
            seg = build_peer(name)
            self.weights = 'random (latency does not depend on them)'
            self.label = PEERS[name]['label']
        self.segmentor = seg
        self.train = FullSize(seg).eval()
        self.deploy = None
        if self.is_csnet:
            from csnet_mmseg.deploy import convert_to_deploy
            self.deploy = convert_to_deploy(seg)
        self.onnx_files = {}  # size (None: dynamic) -> path or exception
        self.sessions = {}
        self.ov_runners = {}  # (shape or None, threads) -> runner

    def forms(self):
        out = []
        for f in self.args.forms:
            if f in ('train-ftz', 'deploy') and not self.is_csnet:
                continue
            out.append(f)
        return out

    def onnx_file(self, size, fixed=False):
        """CSNet: the dynamic-shape file, or with ``fixed`` the one for
        ``size`` (dynamic batch); a peer: its file for ``size``."""
        key = ('fixed', size) if fixed else None if self.is_csnet else size
        if key not in self.onnx_files:
            tag = f'fixed{size}' if fixed else key
            path = osp.join(self.tmpdir, f'{self.name}_{tag}.onnx')
            try:
                self._export(path, size, fixed)
                self.onnx_files[key] = path
            except Exception as e:  # noqa: BLE001  (reported in the table)
                self.onnx_files[key] = e
        return self.onnx_files[key]

    def _export(self, path, size, fixed=False):
        # the TorchScript exporter prints the whole graph (from C++) when it
        # fails: keep it out of the report
        with silenced_fds():
            self._export_quiet(path, size, fixed)

    def _export_quiet(self, path, size, fixed=False):
        if self.is_csnet:
            from csnet_mmseg.deploy.onnx_export import export_onnx
            export_onnx(
                self.deploy, path, shape=(size, size), dynamic_size=not fixed)
            return
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.onnx.export(
                self.train, (torch.randn(1, 3, size, size), ),
                path,
                dynamo=False,
                opset_version=17,
                input_names=['input'],
                output_names=['logits'])

    def session(self, size, threads):
        path = self.onnx_file(size)
        if isinstance(path, Exception):
            raise path
        key = (path, threads)
        if key not in self.sessions:
            from csnet_mmseg.deploy.onnx_export import ort_session
            self.sessions[key] = ort_session(path, threads)
        return self.sessions[key]

    def openvino(self, shape, threads):
        """An OpenVINO runner (f32) for inputs of ``shape`` (N, C, H, W):
        CSNet's one from its ONNX file for that size (dynamic batch), a
        peer's converted from its PyTorch module at that shape."""
        from csnet_mmseg.deploy.openvino_backend import OpenVINORunner
        key = (shape[-1] if self.is_csnet else tuple(shape), threads)
        if key not in self.ov_runners:
            if self.is_csnet:
                path = self.onnx_file(shape[-1], fixed=True)
                model = self.deploy if isinstance(path, Exception) else path
            else:
                model = self.train
            with silenced_fds(), warnings.catch_warnings():
                warnings.simplefilter('ignore')
                self.ov_runners[key] = OpenVINORunner(
                    model,
                    threads=threads,
                    precision='f32',
                    example_shape=tuple(shape),
                    dynamic=self.is_csnet)
        return self.ov_runners[key]

    def callable(self, form, size, threads, batch=1):
        if form in ('train', 'train-ftz'):
            return lambda x: self.train(x)
        if form == 'deploy':
            return lambda x: self.deploy(x)
        if form == 'openvino':
            return self.openvino((batch, 3, size, size), threads)
        if not self.is_csnet and batch != 1:
            raise RuntimeError('peers are exported to ONNX at batch 1 only')
        sess = self.session(size, threads)
        name = sess.get_inputs()[0].name
        return lambda x: sess.run(None, {name: x.numpy()})[0]
