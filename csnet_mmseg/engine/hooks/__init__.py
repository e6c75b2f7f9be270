from .bad_sample_hook import BadSampleHook
from .channel_pruning_hook import ChannelPruningHook

__all__ = ['BadSampleHook', 'ChannelPruningHook']
