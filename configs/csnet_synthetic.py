# A short CPU run of the paper's recipe on the synthetic SOD set (the demo
# job of the README: train -> prune -> fine-tune -> test). Make the data first:
#   python tools/misc/make_synthetic_sod.py data/synthetic_sod
#   python tools/train.py configs/csnet_synthetic.py
# Input 112x112 (not the paper's 224: one iteration of batch 4 takes ~0.5 s
# on one CPU thread at 112 and ~5 s at 224), batch 4, 600 iterations of Adam
# (lr 5e-3 - the paper's 1e-4 is for 300 epochs -, betas 0.9/0.99), lr x0.1
# at iteration 500, dynamic weight decay 3.0 on the backbone's gOctConv BN
# gammas, standard weight decay 5e-3 on everything else. Under Adam a gamma
# moves by about lr per step, so the summed lr (2.5 here; 0.5 with the
# earlier 300 iterations at 2e-3) bounds how far the decay can take a gamma
# from its initial 1: at 0.5 no channel could fade and the demo pruned 0.1%
# within MAE +0.002, at 2.5 it prunes about a fifth (README). Validation on
# the synthetic val set every 200 iterations; checkpoints at 200/400/600
# (last two kept) and the best one by synthetic_sod_val/MAE.
_base_ = [
    './_base_/models/csnet.py', './_base_/datasets/synthetic_sod.py',
    './_base_/default_runtime.py', './_base_/schedules/schedule_short.py'
]
custom_imports = dict(imports=['csnet_mmseg'], allow_failed_imports=False)
# Channels-last training: oneDNN's convolutions, pooling and resizing are
# faster in NHWC for CSNet's few-channel maps (1.3x per iteration on a CPU,
# experiments/train_speed/train_speed.py); same model and checkpoints, values
# equal to float rounding (docs/dynamic_weight_decay.md, "Training speed").
# The released training code's conv gain: every single-scale convolution
# (single-scale gOctConvs, the depthwise convs, the CSF dilated convs)
# stores p and convolves with 100 * p, which under Adam moves those weights
# 100x faster and makes their L2 decay 1e4x weaker (see
# csnet_mmseg.models.layers.ScaledConv2d); multi-scale gOctConvs and
# conv_seg keep gain 1. Checkpoints carry the gain (backbone.conv_gain,
# decode_head.conv_gain): one of another gain is refused.
conv_cfg = dict(type='ScaledConv2d', gain=100.0)
model = dict(
    backbone=dict(channels_last=True, conv_cfg=conv_cfg),
    decode_head=dict(conv_cfg=conv_cfg))
randomness = dict(seed=0)
crop_size = (112, 112)
# The pipelines of _base_/datasets/sod_pipelines.py, resized to crop_size.
train_pipeline = [
    dict(t, scale=crop_size) if t.type == 'Resize' else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, scale=crop_size) if t.type == 'Resize' else t
    for t in _base_.test_pipeline
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='DynamicWeightDecayOptimWrapper',
    constructor='DynamicWeightDecayOptimWrapperConstructor',
    optimizer=dict(type='Adam', lr=5e-3, betas=(0.9, 0.99), weight_decay=5e-3),
    dynamic_decay=3.0,
    metric='gap',
    scale_weights=None,
    include_head=False)
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=False,
        milestones=[500],
        gamma=0.1,
        begin=0,
        end=600)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=600, val_interval=200)
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=200,
        max_keep_ckpts=2,
        save_best='synthetic_sod_val/MAE',
        rule='less'))
