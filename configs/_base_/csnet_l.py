# What the released csnet-L models share (configs/csnet_l_x1.py,
# csnet_l_x2.py): tested on the six SOD benchmarks with tools/test.py, and
# a test_pipeline for plain images for mmseg.apis.init_model /
# inference_model (tools/infer.py). Each model config adds its layer table
# (./models/csnet_l_x1.py, ./models/csnet_l_x2.py).
_base_ = ['./datasets/sod_benchmarks.py', './default_runtime.py']
custom_imports = dict(imports=['csnet_mmseg'], allow_failed_imports=False)
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
