# CSNet trained as in the paper (Gao et al., ECCV 2020): DUTS-TR, batch 24,
# 224x224, 300 epochs of Adam (lr 1e-4, betas 0.9/0.99), lr x0.1 at epochs
# 200 and 250, BCE loss, MAE on ECSSD validated every 10 epochs (the best
# checkpoint by ECSSD/MAE is kept); tested on the six SOD benchmarks.
# Dynamic weight decay (lambda_d = 3.0, metric |GAP| of each channel's
# output after BN + PReLU) acts on the BN gammas of every gOctConv of the
# backbone, which get no standard decay; every other parameter keeps the
# standard weight decay 5e-3. See docs/dynamic_weight_decay.md.
#   SOD_DATA_ROOT=/path/to/sod python tools/train.py configs/csnet_duts.py
_base_ = [
    './_base_/models/csnet.py', './_base_/datasets/duts.py',
    './_base_/default_runtime.py', './_base_/schedules/schedule_300e.py'
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
train_dataloader = dict(batch_size=24)
optim_wrapper = dict(
    _delete_=True,
    type='DynamicWeightDecayOptimWrapper',
    constructor='DynamicWeightDecayOptimWrapperConstructor',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99), weight_decay=5e-3),
    dynamic_decay=3.0,
    metric='gap',  # S = |mean over H, W| per sample and channel, batch mean
    scale_weights=None,  # 'flops': TPAMI FLOPs-aware weights 1/4^k
    include_head=False)  # True: also the head's gOctConv/dilation norms
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=True,
        interval=10,
        max_keep_ckpts=3,
        save_best='ECSSD/MAE',
        rule='less'))
# Step 2 of the recipe, at the end of training: remove every channel whose
# |gamma| < 1e-20 (the released setting; override with --cfg-options
# custom_hooks.0.threshold=...) and write into <work_dir>/pruned/ the
# narrowed config (pruned_config.py), checkpoint (pruned.pth) and a
# params/FLOPs table (summary.md). Step 3: configs/csnet_duts_finetune.py.
custom_hooks = [
    dict(type='ChannelPruningHook', threshold=1e-20),
    dict(type='FlushDenormalHook'),
]
