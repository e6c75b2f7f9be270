# csnet-L-x1: the released model (93,647 parameters). Its layer table is the
# one learned by dynamic weight decay + pruning in the released checkpoint
# (layer_config_csnet-L-x1.json). Weights: tools/model_converters/csnet2mmseg.py.
_base_ = ['./_base_/models/csnet.py', './_base_/datasets/sod_benchmarks.py',
          './_base_/default_runtime.py']
custom_imports = dict(imports=['csnet_mmseg'], allow_failed_imports=False)
model = dict(
    backbone=dict(
        stem_channels=[8, 10],
        stage_channels=[
            [[9, 10], [10, 10], [10, 10]],
            [[19, 13], [19, 17], [20, 12], [34]],
            [[24, 21], [26, 27], [22, 18], [19, 18], [23, 18], [38]],
            [[18, 29], [25, 24], [26, 20], [50]],
        ]),
    decode_head=dict(
        in_channels=[34, 38, 50],
        fuse_channels=[12, 24, 24],
        dilation_channels=[[1, 2, 2, 2, 4], [1, 4, 4, 4, 5], [2, 2, 4, 5, 4]],
        channels=60))
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    visualization=dict(type='SegVisualizationHook'))
# for mmseg.apis.init_model / inference_model on plain images
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='PackSegInputs'),
]
