from .channel_pruning_hook import ChannelPruningHook

__all__ = ['ChannelPruningHook']
