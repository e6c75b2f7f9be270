"""INT8 post-training quantisation of the CSNet deploy form with NNCF for
OpenVINO, and its measurement against the exact f32 model.

    python tools/deployment/quantize_openvino.py CONFIG CHECKPOINT \
        --calib-root ../shared/data/duts-tr-224 --calib-split train.txt \
        --out work_dirs/int8/csnet_l_x1_int8.xml \
        [--num-calib 300] [--size 224] [--preset performance|mixed] \
        [--ignore-types GroupConvolution ...] [--no-fast-bias-correction] \
        [--model-type transformer] [--eval-root ../shared/data/pascal-s-dev] \
        [--dynamic] [--no-bench] [--rounds 7] [--runs 10] [--threads 1] \
        [--overwrite]

Steps: the segmentor is converted with ``convert_to_deploy`` (logits
output), exported to ONNX for ``--size`` x ``--size`` with a dynamic batch
(the fastest OpenVINO graph; ``--dynamic``: dynamic height and width too)
and converted to an OpenVINO model; ``nncf.quantize`` calibrates it on
``--num-calib`` images
(a seeded random choice from ``--calib-split``, a list of image stems in
``--calib-root``) prepared exactly as the test pipeline does: read as RGB,
resized to ``--size`` x ``--size`` with OpenCV's bilinear filter, ImageNet
mean/std. The quantised model is saved as OpenVINO IR (``--out``, .xml +
.bin, weights not compressed to f16).

Then it reports, as markdown tables:

- latency of f32 and int8 at ``--size`` (batch 1, ``--threads``; both
  compiled for that static shape; in one process, the two forms alternating
  over ``--rounds`` rounds of ``--runs`` runs: the median of the round
  medians, and the median of the per-round ratios);
- which nodes run in int8: OpenVINO's per-node counters (``PERF_COUNT``) of
  the compiled int8 and f32 models, per node type with the execution
  precision and time;
- with ``--eval-root`` (a folder with ``images/`` and ``GT/``, e.g.
  PASCAL-S): MAE and max F of f32 and int8 with the official protocol
  (224x224 input, logits resized back to the image size, sigmoid, 8-bit
  maps) and the change.
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
import warnings
from collections import defaultdict

import numpy as np
import torch

PRESETS = ('performance', 'mixed')
MODEL_TYPES = ('none', 'transformer')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='INT8 quantisation (NNCF) of the CSNet deploy form for '
        'OpenVINO, measured against f32')
    parser.add_argument('config', help='model config')
    parser.add_argument('checkpoint', help='checkpoint')
    parser.add_argument(
        '--out', required=True, help='output OpenVINO IR (.xml; + .bin)')
    parser.add_argument(
        '--calib-root',
        required=True,
        help='calibration data root (e.g. ../shared/data/duts-tr-224)')
    parser.add_argument(
        '--calib-split',
        help='file of image stems, relative to --calib-root (default: every '
        'image of the image folder)')
    parser.add_argument(
        '--calib-img-dir',
        default='DUTS-TR-Image',
        help='image folder under --calib-root (default DUTS-TR-Image; the '
        'root itself if that folder does not exist)')
    parser.add_argument(
        '--num-calib',
        type=int,
        default=300,
        help='calibration images (seeded random choice), default 300')
    parser.add_argument(
        '--size', type=int, default=224, help='calibration size (square)')
    parser.add_argument(
        '--preset',
        default='performance',
        help=f'NNCF preset: {", ".join(PRESETS)} (default performance)')
    parser.add_argument(
        '--model-type',
        default='none',
        help=f'NNCF model_type: {", ".join(MODEL_TYPES)} (default none)')
    parser.add_argument(
        '--ignore-types',
        nargs='+',
        default=[],
        metavar='TYPE',
        help='OpenVINO op types left in f32 (nncf.IgnoredScope(types=...)), '
        'e.g. GroupConvolution Interpolate')
    parser.add_argument(
        '--no-fast-bias-correction',
        action='store_true',
        help='NNCF\'s full bias correction instead of the fast one')
    parser.add_argument(
        '--eval-root',
        help='accuracy set: a folder with images/ and GT/ (e.g. '
        '../shared/data/pascal-s-dev)')
    parser.add_argument(
        '--dynamic',
        action='store_true',
        help='export with dynamic height and width (default: fixed to '
        '--size, whose upsamplings OpenVINO runs faster)')
    parser.add_argument(
        '--no-bench', action='store_true', help='skip the latency table')
    parser.add_argument(
        '--rounds', type=int, default=7, help='timing rounds (default 7)')
    parser.add_argument(
        '--runs', type=int, default=10, help='runs per form and round')
    parser.add_argument(
        '--threads', type=int, default=1, help='CPU threads (default 1)')
    parser.add_argument('--seed', type=int, default=0, help='choice seed')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace an existing --out')
    args = parser.parse_args(argv)
    if args.preset not in PRESETS:
        parser.error(f'--preset must be one of {", ".join(PRESETS)}, got '
                     f'{args.preset!r}')
    if args.model_type not in MODEL_TYPES:
        parser.error(f'--model-type must be one of {", ".join(MODEL_TYPES)}, '
                     f'got {args.model_type!r}')
    if args.num_calib < 1:
        parser.error(f'--num-calib must be >= 1, got {args.num_calib}')
    if args.size < 32:
        parser.error(f'--size must be >= 32, got {args.size}')
    if args.rounds < 1 or args.runs < 1:
        parser.error('--rounds and --runs must be >= 1')
    if args.threads < 1:
        parser.error(f'--threads must be >= 1, got {args.threads}')
    if not args.out.endswith('.xml'):
        parser.error(f'--out must be an OpenVINO .xml file, got {args.out}')
    if osp.exists(args.out) and not args.overwrite:
        parser.error(f'--out {args.out} exists; pass --overwrite to '
                     'replace it')
    for path, flag in ((args.config, 'config'), (args.checkpoint,
                                                 'checkpoint')):
        if not osp.isfile(path):
            parser.error(f'{flag} not found: {path}')
    if not osp.isdir(args.calib_root):
        parser.error(f'--calib-root is not a folder: {args.calib_root}')
    if args.calib_split and not osp.isfile(
            osp.join(args.calib_root, args.calib_split)):
        parser.error('--calib-split not found: '
                     f'{osp.join(args.calib_root, args.calib_split)}')
    if args.eval_root and not all(
            osp.isdir(osp.join(args.eval_root, d)) for d in ('images', 'GT')):
        parser.error(f'--eval-root {args.eval_root} needs images/ and GT/')
    if args.eval_root and args.size != 224 and not args.dynamic:
        parser.error('--eval-root runs the 224x224 protocol: it needs '
                     '--size 224 or --dynamic')
    return args


# ------------------------------------------------------------------ data
def calibration_files(args) -> list:
    """The chosen calibration images (sorted)."""
    from csnet_mmseg.apis.inference import IMAGE_EXTENSIONS
    folder = osp.join(args.calib_root, args.calib_img_dir)
    if not osp.isdir(folder):
        folder = args.calib_root
    by_stem = {
        osp.splitext(f)[0]: osp.join(folder, f)
        for f in sorted(os.listdir(folder))
        if f.lower().endswith(IMAGE_EXTENSIONS)
    }
    if args.calib_split:
        split = osp.join(args.calib_root, args.calib_split)
        with open(split) as f:
            stems = [ln.strip() for ln in f if ln.strip()]
        missing = [s for s in stems if s not in by_stem]
        if missing:
            raise FileNotFoundError(
                f'--calib-split: {len(missing)} image(s) of {split} are not '
                f'in {folder}, e.g. {missing[0]}')
        files = [by_stem[s] for s in stems]
    else:
        files = list(by_stem.values())
    if not files:
        raise FileNotFoundError(f'--calib-root: no images in {folder}')
    n = min(args.num_calib, len(files))
    pick = np.random.RandomState(args.seed).choice(len(files), n, False)
    return [files[i] for i in sorted(pick)]


def load_batch(path: str, size: int) -> np.ndarray:
    """One image as the test pipeline feeds it: ``(1, 3, size, size)``
    float32, RGB, ImageNet mean/std."""
    from csnet_mmseg.apis.inference import (normalise, read_image_rgb,
                                            resize_images)
    return normalise(resize_images([read_image_rgb(path)],
                                   (size, size))).numpy()


# ---------------------------------------------------------------- models
def build_deploy(config: str, checkpoint: str):
    import csnet_mmseg  # noqa: F401  (registers the CSNet modules)
    from csnet_mmseg.apis import init_segmentor
    from csnet_mmseg.deploy import convert_to_deploy
    return convert_to_deploy(init_segmentor(config, checkpoint, 'cpu'))


def to_openvino(model, tmpdir: str, size: int, dynamic: bool):
    """The deploy form's OpenVINO model through its ONNX export (for
    ``size`` x ``size`` and any batch, or any size with ``dynamic``)."""
    from csnet_mmseg.deploy.onnx_export import export_onnx
    from csnet_mmseg.deploy.openvino_backend import convert_to_openvino
    path = osp.join(tmpdir, 'deploy.onnx')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        export_onnx(
            model, path, shape=(size, size), dynamic_size=dynamic)
    return convert_to_openvino(path)


def quantize(ov_model, files, args):
    """``nncf.quantize`` with the options of ``args``."""
    try:
        import nncf
    except ImportError as e:
        raise ImportError('INT8 quantisation needs nncf (pip install nncf, '
                          'pinned in requirements.txt)') from e
    dataset = nncf.Dataset(files, lambda f: load_batch(f, args.size))
    kwargs = dict(
        preset=nncf.QuantizationPreset(args.preset),
        target_device=nncf.TargetDevice.CPU,
        subset_size=len(files),
        fast_bias_correction=not args.no_fast_bias_correction)
    if args.model_type != 'none':
        kwargs['model_type'] = nncf.ModelType(args.model_type)
    if args.ignore_types:
        kwargs['ignored_scope'] = nncf.IgnoredScope(
            types=list(args.ignore_types), validate=False)
    return nncf.quantize(ov_model, dataset, **kwargs)


def compile_static(ov_model, size: int, threads: int, profile=False):
    """A copy of ``ov_model`` reshaped to ``(1, 3, size, size)``, compiled
    (f32 precision hint: the int8 nodes stay int8, the rest exact)."""
    from csnet_mmseg.deploy.openvino_backend import compile_openvino
    m = ov_model.clone()
    m.reshape([1, 3, size, size])
    return compile_openvino(m, threads, 'f32', profile)


# ------------------------------------------------------------ measuring
def time_forms(models: dict, size: int, args) -> dict:
    """Per form: the median, min and max over rounds of the per-round
    median latency (ms), and the median over rounds of the ratio to the
    first form in the same round (robust to a machine whose load changes);
    the forms alternate (their order reverses every round)."""
    x = np.random.RandomState(size).randn(1, 3, size, size).astype(
        np.float32)
    reqs = {}
    for name, m in models.items():
        req = compile_static(m, size, args.threads).create_infer_request()
        for _ in range(3):
            req.infer({0: x})
        reqs[name] = req
    per_round = defaultdict(list)
    names = list(reqs)
    for r in range(args.rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            req, times = reqs[name], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                req.infer({0: x})
                times.append(time.perf_counter() - t0)
            per_round[name].append(statistics.median(times) * 1e3)
    first = per_round[names[0]]
    return {
        n: (statistics.median(v), min(v), max(v),
            statistics.median(a / b for a, b in zip(v, first)))
        for n, v in per_round.items()
    }


def exec_precision(exec_type: str) -> str:
    """'int8' / 'f32' / 'other' from an OpenVINO exec type such as
    ``brgconv_avx512_I8`` or ``jit_avx512_FP32``."""
    tail = exec_type.rsplit('_', 1)[-1].upper()
    if tail in ('I8', 'U8'):
        return 'int8'
    if tail in ('FP32', 'F32'):
        return 'f32'
    return 'other' if exec_type not in ('undef', 'unknown_FP32') else 'none'


def node_table(ov_model, size: int, args, runs: int = 10) -> dict:
    """node type -> {precision: [count, ms]} over executed nodes (mean of
    ``runs`` profiled runs)."""
    compiled = compile_static(ov_model, size, args.threads, profile=True)
    req = compiled.create_infer_request()
    x = np.random.RandomState(1).randn(1, 3, size, size).astype(np.float32)
    for _ in range(2):
        req.infer({0: x})
    table = defaultdict(lambda: defaultdict(lambda: [0, 0.0]))
    for k in range(runs):
        req.infer({0: x})
        for p in req.get_profiling_info():
            if p.status.name != 'EXECUTED':
                continue
            cell = table[p.node_type][exec_precision(p.exec_type)]
            if k == 0:
                cell[0] += 1
            cell[1] += p.real_time.total_seconds() * 1e3 / runs
    return table


def evaluate(ov_model, root: str, threads: int) -> dict:
    """MAE and max F on ``root`` (images/ + GT/) with the official
    protocol, as ``tools/test.py`` computes them (``SODMetric``)."""
    import torch.nn.functional as F
    from mmengine.utils import ProgressBar

    from csnet_mmseg.apis.inference import (TEST_SIZE, collect_images,
                                            normalise, read_image_rgb,
                                            resize_images)
    from csnet_mmseg.evaluation.metrics.sod_metric import SODMetric
    from csnet_mmseg.deploy.openvino_backend import compile_openvino
    m = ov_model.clone()
    m.reshape([1, 3, *TEST_SIZE])
    req = compile_openvino(m, threads, 'f32').create_infer_request()
    metric = SODMetric(sod_metrics=['MAE', 'Fmeasure'], activation='none')
    files = collect_images([osp.join(root, 'images')])
    bar = ProgressBar(len(files), file=sys.stderr)
    for f in files:
        img = read_image_rgb(f)
        req.infer({0: normalise(resize_images([img], TEST_SIZE)).numpy()})
        logits = torch.from_numpy(req.get_output_tensor(0).data.copy())
        # EncoderDecoder.postprocess_result: resize the logits, sigmoid
        prob = F.interpolate(
            logits, size=img.shape[:2], mode='bilinear',
            align_corners=False)[0].sigmoid()
        stem = osp.splitext(osp.basename(f))[0]
        metric.process({}, [
            dict(
                seg_logits=dict(data=prob),
                img_path=f,
                seg_map_path=osp.join(root, 'GT', stem + '.png'),
                dataset_name='eval')
        ])
        bar.update()
    sys.stderr.write('\n')
    res = metric.compute_metrics(metric.results)
    return dict(MAE=res['MAE'], maxF=res['maxF'], n=len(files))


# ------------------------------------------------------------------ main
def main(argv=None):
    args = parse_args(argv)
    import openvino as ov
    warnings.filterwarnings('ignore', category=UserWarning, module=r'mmseg')
    torch.set_num_threads(args.threads)
    try:
        files = calibration_files(args)
    except FileNotFoundError as e:
        sys.exit(f'error: {e}')
    model = build_deploy(args.config, args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        f32 = to_openvino(model, tmp, args.size, args.dynamic)
    t0 = time.perf_counter()
    int8 = quantize(f32, files, args)
    quant_s = time.perf_counter() - t0
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    ov.save_model(int8, args.out, compress_to_fp16=False)
    fq = sum(op.get_type_name() == 'FakeQuantize' for op in int8.get_ops())
    opts = (f'{"dynamic" if args.dynamic else "fixed"}-size graph, '
            f'preset={args.preset}, model_type={args.model_type}, '
            f'fast_bias_correction={not args.no_fast_bias_correction}, '
            f'ignored types={args.ignore_types or "none"}')
    print(f'wrote {args.out}: {fq} FakeQuantize nodes; {len(files)} '
          f'calibration images at {args.size}x{args.size} from '
          f'{args.calib_root} ({quant_s:.0f} s; {opts})\n')
    forms = {'f32': f32, 'int8': int8}
    size = args.size
    if not args.no_bench:
        print(f'| size | f32 ms | int8 ms | int8 / f32 (median of per-round '
              f'ratios) | round medians min-max ({args.rounds} rounds x '
              f'{args.runs} runs, {args.threads} thread(s)) |')
        print('|---|---|---|---|---|')
        t = time_forms(forms, size, args)
        spread = ', '.join(f'{k} {v[1]:.1f}-{v[2]:.1f}' for k, v in t.items())
        print(f'| {size} | {t["f32"][0]:.2f} | {t["int8"][0]:.2f} | '
              f'{t["int8"][3]:.3f}x | {spread} |\n')
    tables = {k: node_table(m, size, args) for k, m in forms.items()}
    print(f'Executed nodes per type at {size}x{size} (count, mean ms) by '
          'execution precision:\n')
    print('| node type | f32 model: f32 | int8 model: int8 | '
          'int8 model: f32 | int8 model: other |')
    print('|---|---|---|---|---|')
    kinds = sorted(
        set(tables['f32']) | set(tables['int8']),
        key=lambda k: -sum(v[1] for v in tables['int8'].get(k, {}).values()))

    def cell(t, k, prec):
        c = t.get(k, {}).get(prec)
        return f'{c[0]} / {c[1]:.2f}' if c and c[0] else '-'

    totals = {}
    for k in kinds:
        print(f'| {k} | {cell(tables["f32"], k, "f32")} | '
              f'{cell(tables["int8"], k, "int8")} | '
              f'{cell(tables["int8"], k, "f32")} | '
              f'{cell(tables["int8"], k, "other")} |')
    for name, t in tables.items():
        totals[name] = sum(c[1] for v in t.values() for c in v.values())
    n8 = sum(v['int8'][0] for v in tables['int8'].values() if 'int8' in v)
    print(f'\nSum of node times: f32 {totals["f32"]:.2f} ms, int8 '
          f'{totals["int8"]:.2f} ms; {n8} nodes of the int8 model run in '
          'int8\n')
    if args.eval_root:
        acc = {k: evaluate(m, args.eval_root, args.threads)
               for k, m in forms.items()}
        d_mae = acc['int8']['MAE'] - acc['f32']['MAE']
        d_f = acc['int8']['maxF'] - acc['f32']['maxF']
        print(f'| {osp.basename(osp.normpath(args.eval_root))} '
              f'({acc["f32"]["n"]} images) | MAE | max F |')
        print('|---|---|---|')
        for k in forms:
            print(f'| {k} | {acc[k]["MAE"]:.5f} | {acc[k]["maxF"]:.5f} |')
        print(f'| int8 - f32 | {d_mae:+.5f} | {d_f:+.5f} |')
        ok = d_mae <= 0.002 and d_f >= -0.003
        print(f'\nwithin the bound (MAE change <= 0.002, max F change >= '
              f'-0.003): {"yes" if ok else "NO"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
