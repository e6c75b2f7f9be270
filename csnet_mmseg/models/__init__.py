from .backbones import *  # noqa: F401,F403
from .decode_heads import *  # noqa: F401,F403
from .layer_table import (layer_table_from_model_cfg, make_layer_table,
                          table_layers)
from .layers import *  # noqa: F401,F403
from .parts import NotCSNetError, csnet_parts
from .segmentors import *  # noqa: F401,F403

__all__ = [
    'make_layer_table', 'layer_table_from_model_cfg', 'table_layers',
    'NotCSNetError', 'csnet_parts'
]
