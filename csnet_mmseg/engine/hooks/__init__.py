from .bad_sample_hook import BadSampleHook
from .channel_pruning_hook import ChannelPruningHook
from .flush_denormal_hook import FlushDenormalHook

__all__ = ['BadSampleHook', 'ChannelPruningHook', 'FlushDenormalHook']
