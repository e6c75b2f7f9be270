"""Building a segmentor from a config and a checkpoint."""

__all__ = ['init_segmentor']


def init_segmentor(config, checkpoint: str, device: str = 'cpu'):
    """:func:`mmseg.apis.init_model` that also takes a checkpoint without
    ``meta`` (a bare ``state_dict`` or ``dict(state_dict=...)``, which
    ``init_model`` rejects with ``KeyError: 'meta'``).

    Args:
        config (str | Config): Model config.
        checkpoint (str): Checkpoint file (loaded safely, see
            :func:`csnet_mmseg.checkpoint.load_checkpoint_file`).
        device (str): Torch device. Defaults to 'cpu'.

    Returns:
        nn.Module: The segmentor in eval mode, with ``dataset_meta``.
    """
    from mmengine.runner import load_checkpoint
    from mmseg.apis import init_model
    model = init_model(config, None, device=device)
    ckpt = load_checkpoint(model, checkpoint, map_location='cpu')
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    if isinstance(meta, dict) and meta.get('dataset_meta'):
        model.dataset_meta = meta['dataset_meta']
    else:
        model.dataset_meta = dict(
            classes=('background', 'foreground'),
            palette=[[0, 0, 0], [255, 255, 255]])
    return model.eval()
