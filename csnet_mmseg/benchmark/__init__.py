"""Measuring CSNet and its peers on the CPU: one timer, the inference forms
of a segmentor, OpenVINO export/compile/profile and the markdown reports.

Not imported by ``csnet_mmseg`` itself (it pulls in the deploy code); use
``from csnet_mmseg.benchmark import ...``. The memory probe, which runs in
its own process, is :mod:`csnet_mmseg.benchmark.memory`.
"""
from .cpu_benchmark import (build_forms, complexity, machine_meta, measure,
                            run_benchmark)
from .cpu_report import build_report
from .forms import ALL_FORMS, SegmentorForms, silenced_fds
from .models import (ALL_MODELS, CSNET, PEERS, REPO_ROOT, build_csnet,
                     build_peer)
from .openvino import (NodeTime, compile_for_shape, exec_precision,
                       export_openvino, node_precision_table,
                       node_type_times, profile_nodes)
from .report import fmt_ms, fmt_ratio, markdown_table
from .timer import Timing, time_callable, time_rounds

__all__ = [
    'ALL_FORMS', 'ALL_MODELS', 'CSNET', 'PEERS', 'REPO_ROOT', 'NodeTime',
    'SegmentorForms', 'Timing', 'build_csnet', 'build_forms', 'build_peer',
    'build_report', 'compile_for_shape', 'complexity', 'exec_precision',
    'export_openvino', 'fmt_ms', 'fmt_ratio', 'machine_meta',
    'markdown_table', 'measure', 'node_precision_table',
    'node_type_times', 'profile_nodes', 'run_benchmark',
    'silenced_fds', 'time_callable', 'time_rounds'
]
