# The dynamic-weight-decay experiment (experiments/dwd/README.md): the
# initial x1 CSNet (240,741 parameters) trained from scratch on the DUTS-TR
# training split (duts-tr-224 under SOD_DATA_ROOT, train.txt; the tool's
# --data-root, default ../shared/data) with the paper's
# recipe compressed to a 2-core CPU: Adam (betas 0.9/0.99), BCE, the paper's
# augmentation (border crop 0-14 px, LR/UD flips) at 112x112, batch 8,
# lr x0.1 at 2/3 and 5/6 of the run, standard weight decay 5e-3 on every
# non-targeted parameter. The three arms (csnet_x1_duts224_{none,l2,dwd}.py)
# differ only in what decays the targeted gammas (the BN gammas of every
# gOctConv of the backbone); seed, initial weights, data order and schedule
# are the same. Run them all with
#   python experiments/dwd/dwd_experiment.py
# (or one arm with SOD_DATA_ROOT=../shared/data python tools/train.py
# experiments/dwd/configs/csnet_x1_duts224_<arm>.py). Validation: val.txt
# (503 images).
_base_ = [
    '../../../configs/_base_/models/csnet.py',
    '../../../configs/_base_/datasets/duts_tr_224.py',
    '../../../configs/_base_/default_runtime.py'
]
custom_imports = dict(imports=['csnet_mmseg'], allow_failed_imports=False)
# The released training form (issue 22): every single-scale conv convolves
# with 100x its stored weight (Conv2dX100). The runs logged in
# experiments/dwd/README.md before this line was added trained gain 1; to
# repeat them, add --cfg-options model.backbone.conv_cfg=None
# model.decode_head.conv_cfg=None (their checkpoints are refused otherwise).
conv_cfg = dict(type='ScaledConv2d', gain=100.0)
model = dict(
    backbone=dict(conv_cfg=conv_cfg), decode_head=dict(conv_cfg=conv_cfg))
randomness = dict(seed=0)
crop_size = (112, 112)
# The pipelines of configs/_base_/datasets/sod_pipelines.py, resized to
# crop_size.
train_pipeline = [
    dict(t, scale=crop_size) if t.type == 'Resize' else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, scale=crop_size) if t.type == 'Resize' else t
    for t in _base_.test_pipeline
]
# One process per arm, one thread each: the data are loaded in the main
# process (decoding eight 224-px JPEGs is ~1% of an iteration).
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 1200
lr = 5e-3
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=lr, betas=(0.9, 0.99), weight_decay=5e-3))
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=False,
        milestones=[max_iters * 2 // 3, max_iters * 5 // 6],
        gamma=0.1,
        begin=0,
        end=max_iters)
]
# Validated once, at the end of the run.
train_cfg = dict(
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_begin=max_iters,
    val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
log_processor = dict(by_epoch=False)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=300,
        max_keep_ckpts=1,
        save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
# Decay drives gammas towards subnormal floats, which the CPU computes slowly.
custom_hooks = [dict(type='FlushDenormalHook')]
