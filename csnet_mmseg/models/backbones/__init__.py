from .csnet import BlockSpec, CSNet, CSNetBlock, csnet_block_specs

__all__ = ['CSNet', 'CSNetBlock', 'BlockSpec', 'csnet_block_specs']
