from .backbones import *  # noqa: F401,F403
from .decode_heads import *  # noqa: F401,F403
from .layer_table import LayerTable
from .layers import *  # noqa: F401,F403
from .parts import NotCSNetError, csnet_parts
from .segmentors import *  # noqa: F401,F403

__all__ = [
    'LayerTable', 'NotCSNetError', 'csnet_parts'
]
