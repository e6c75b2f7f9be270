"""Latency, executed-node precision and accuracy of OpenVINO models side by
side (an f32 model and its INT8 quantisation), as markdown tables."""
from typing import Dict, List, Mapping

import numpy as np

from .openvino import compile_for_shape, node_precision_table, profile_nodes
from .report import markdown_table
from .timer import Timing, time_rounds

__all__ = [
    'evaluate_openvino', 'time_openvino_models', 'node_tables',
    'latency_lines', 'node_lines', 'accuracy_lines'
]


def evaluate_openvino(ov_model, root: str, threads: int) -> dict:
    """MAE and max F of an OpenVINO model (logits output) on ``root``
    (``images/`` + ``GT/``) with the official protocol (224x224 input), by
    :func:`~csnet_mmseg.evaluation.folder.evaluate_folder`."""
    import torch

    from ..apis.inference import TEST_SIZE
    from ..evaluation.folder import evaluate_folder
    req = compile_for_shape(ov_model, (1, 3, *TEST_SIZE),
                            threads).create_infer_request()

    def logits(x):
        req.infer({0: x.numpy()})
        return torch.from_numpy(req.get_output_tensor(0).data.copy())

    return evaluate_folder(logits, root, TEST_SIZE)


def time_openvino_models(models: Mapping, size: int, threads: int,
                         rounds: int, runs: int) -> Dict[str, Timing]:
    """Per model, its latency (batch 1, compiled for ``size`` x ``size``)
    over ``rounds`` alternating rounds of ``runs`` runs after 3 warm-up
    runs, all in this process."""
    x = np.random.RandomState(size).randn(1, 3, size, size).astype(
        np.float32)
    fns = {}
    for name, m in models.items():
        req = compile_for_shape(m, (1, 3, size, size),
                                threads).create_infer_request()
        fns[name] = (lambda r: lambda: r.infer({0: x}))(req)
    return time_rounds(fns, rounds, runs, warmup=3)


def node_tables(models: Mapping, size: int, threads: int,
                runs: int = 10) -> Dict[str, dict]:
    """Per model: node type -> {execution precision: [count, ms]} of the
    executed nodes (mean of ``runs`` profiled runs after 2 warm-up runs)."""
    x = np.random.RandomState(1).randn(1, 3, size, size).astype(np.float32)
    out = {}
    for name, m in models.items():
        req = compile_for_shape(
            m, (1, 3, size, size), threads,
            profile=True).create_infer_request()
        out[name] = node_precision_table(profile_nodes(req, x, runs, 2))
    return out


def latency_lines(t: Mapping[str, Timing], size: int, rounds: int, runs: int,
                  threads: int) -> List[str]:
    """The latency table of ``f32`` and ``int8``."""
    spread = ', '.join(f'{k} {v.min:.1f}-{v.max:.1f}' for k, v in t.items())
    head = [
        'size', 'f32 ms', 'int8 ms',
        'int8 / f32 (median of per-round ratios)',
        f'round medians min-max ({rounds} rounds x {runs} runs, {threads} '
        'thread(s))'
    ]
    return markdown_table(head, [[
        size, f'{t["f32"].median:.2f}', f'{t["int8"].median:.2f}',
        f'{t["int8"].ratio(t["f32"]):.3f}x', spread
    ]])


def node_lines(tables: Mapping[str, dict], size: int) -> List[str]:
    """The executed nodes per type and precision of ``f32`` and ``int8``,
    and their time sums."""
    kinds = sorted(
        set(tables['f32']) | set(tables['int8']),
        key=lambda k: -sum(v[1] for v in tables['int8'].get(k, {}).values()))

    def cell(t, k, prec):
        c = t.get(k, {}).get(prec)
        return f'{c[0]} / {c[1]:.2f}' if c and c[0] else '-'

    head = [
        'node type', 'f32 model: f32', 'int8 model: int8', 'int8 model: f32',
        'int8 model: other'
    ]
    rows = [[
        k,
        cell(tables['f32'], k, 'f32'),
        cell(tables['int8'], k, 'int8'),
        cell(tables['int8'], k, 'f32'),
        cell(tables['int8'], k, 'other')
    ] for k in kinds]
    totals = {
        name: sum(c[1] for v in t.values() for c in v.values())
        for name, t in tables.items()
    }
    n8 = sum(v['int8'][0] for v in tables['int8'].values() if 'int8' in v)
    return [
        f'Executed nodes per type at {size}x{size} (count, mean ms) by '
        'execution precision:\n'
    ] + markdown_table(head, rows) + [
        f'\nSum of node times: f32 {totals["f32"]:.2f} ms, int8 '
        f'{totals["int8"]:.2f} ms; {n8} nodes of the int8 model run in '
        'int8\n'
    ]


def accuracy_lines(acc: Mapping[str, dict], name: str) -> List[str]:
    """MAE and max F of ``f32`` and ``int8`` (see
    :func:`csnet_mmseg.evaluation.folder.evaluate_folder`), their change
    and whether it is within the bound (MAE +0.002, max F -0.003)."""
    d_mae = acc['int8']['MAE'] - acc['f32']['MAE']
    d_f = acc['int8']['maxF'] - acc['f32']['maxF']
    rows = [[k, f'{v["MAE"]:.5f}', f'{v["maxF"]:.5f}']
            for k, v in acc.items()]
    rows.append(['int8 - f32', f'{d_mae:+.5f}', f'{d_f:+.5f}'])
    ok = d_mae <= 0.002 and d_f >= -0.003
    return markdown_table(
        [f'{name} ({acc["f32"]["n"]} images)', 'MAE', 'max F'], rows) + [
            f'\nwithin the bound (MAE change <= 0.002, max F change >= '
            f'-0.003): {"yes" if ok else "NO"}'
        ]
