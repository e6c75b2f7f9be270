from .csnet import CSNet

__all__ = ['CSNet']
