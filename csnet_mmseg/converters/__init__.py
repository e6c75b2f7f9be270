"""Converters of third-party CSNet weights to csnet-mmseg checkpoints."""
from .official_csnet import (ConversionError, conv_gain_config_text,
                             convert_official_state_dict, flush_small_values,
                             format_layer_table_config,
                             layer_table_from_official,
                             load_official_checkpoint, load_official_table)
from .table_file import load_numpy_pickle

__all__ = [
    'ConversionError', 'layer_table_from_official', 'load_official_table',
    'load_official_checkpoint', 'convert_official_state_dict',
    'format_layer_table_config', 'conv_gain_config_text',
    'flush_small_values', 'load_numpy_pickle'
]
