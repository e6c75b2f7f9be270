from .csf_head import CSFHead, MultiDilationConv

__all__ = ['CSFHead', 'MultiDilationConv']
