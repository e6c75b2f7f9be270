"""An EncoderDecoder whose CSNet layer table may come from a file."""
from typing import Optional, Union

from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import ConfigType
from ..layer_table import LayerTable

__all__ = ['CSNetEncoderDecoder']


@MODELS.register_module()
class CSNetEncoderDecoder(EncoderDecoder):
    """MMSeg's ``EncoderDecoder`` whose CSNet layer table can be given as a
    file, so that a config can build a pruned model whose table was written
    by the pruning step (``tools/prune.py``, ``ChannelPruningHook``)::

        python tools/train.py configs/csnet_duts_finetune.py --cfg-options \\
            model.layer_table=work_dirs/csnet_duts/pruned/pruned_config.py \\
            load_from=work_dirs/csnet_duts/pruned/pruned.pth

    Everything else is ``EncoderDecoder``; checkpoints are interchangeable
    with it (same module names).

    Args:
        backbone (dict): The CSNet backbone config.
        decode_head (dict): The CSF head config.
        layer_table (str | dict, optional): The table that replaces the
            layer-table keys of ``backbone`` (``stem_channels``,
            ``stage_channels``) and ``decode_head`` (``in_channels``,
            ``fuse_channels``, ``dilation_channels``, ``channels``): a
            ``pruned_config.py`` (any config whose ``model`` holds them), a
            ``.json`` file or a dict, see :meth:`LayerTable.load`. A
            relative path is relative to the current directory. Defaults to
            None (the configs' own table).
        require_layer_table (bool): Refuse to build without
            ``layer_table`` (fine-tune configs set it, so that a forgotten
            ``--cfg-options model.layer_table=...`` is an error instead of a
            fine-tune of the wide initial model). Defaults to False.
        **kwargs: The other arguments of ``EncoderDecoder``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 layer_table: Optional[Union[str, dict]] = None,
                 require_layer_table: bool = False,
                 **kwargs) -> None:
        if layer_table is None and require_layer_table:
            raise ValueError(
                'model.layer_table is not set, but this config trains a '
                'pruned CSNet: pass the files that the pruning step wrote, '
                '--cfg-options model.layer_table=<pruned dir>/'
                'pruned_config.py load_from=<pruned dir>/pruned.pth')
        self.layer_table_source = layer_table
        if layer_table is not None:
            cfg = LayerTable.load(layer_table).apply_to(
                dict(backbone=backbone, decode_head=decode_head))
            backbone, decode_head = cfg['backbone'], cfg['decode_head']
        super().__init__(backbone=backbone, decode_head=decode_head, **kwargs)
