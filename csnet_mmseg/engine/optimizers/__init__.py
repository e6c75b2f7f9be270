from .dwd_metrics import (DWD_METRICS, gap_metric, get_dwd_metric, l2_metric,
                          max_metric, register_dwd_metric)
from .dwd_targets import DWDTarget, find_dwd_targets
from .dynamic_weight_decay_constructor import \
    DynamicWeightDecayOptimWrapperConstructor
from .dynamic_weight_decay_optim_wrapper import (
    DynamicWeightDecayOptimWrapper, resolve_scale_weights)

__all__ = [
    'DynamicWeightDecayOptimWrapper',
    'DynamicWeightDecayOptimWrapperConstructor', 'DWD_METRICS', 'DWDTarget',
    'find_dwd_targets', 'gap_metric', 'get_dwd_metric', 'l2_metric',
    'max_metric', 'register_dwd_metric', 'resolve_scale_weights'
]
