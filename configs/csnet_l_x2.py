# csnet-L-x2: the released model (140,894 parameters; 788,631 before pruning).
# Its layer table is the learned one of the released checkpoint
# (layer_config_csnet-L-x2.json). Weights: tools/model_converters/csnet2mmseg.py.
_base_ = ['./_base_/models/csnet.py', './_base_/datasets/sod_benchmarks.py',
          './_base_/default_runtime.py']
custom_imports = dict(imports=['csnet_mmseg'], allow_failed_imports=False)
model = dict(
    backbone=dict(
        stem_channels=[13, 10],
        stage_channels=[
            [[13, 12], [18, 11], [18, 12]],
            [[28, 21], [34, 22], [31, 29], [51]],
            [[23, 26], [27, 26], [25, 20], [17, 21], [19, 25], [38]],
            [[18, 31], [31, 27], [26, 44], [64]],
        ]),
    decode_head=dict(
        in_channels=[51, 38, 64],
        fuse_channels=[17, 38, 32],
        dilation_channels=[[2, 1, 2, 2, 1], [0, 6, 6, 7, 5], [0, 1, 3, 7, 7]],
        channels=79))
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
