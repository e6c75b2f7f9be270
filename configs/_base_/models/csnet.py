# CSNet (Gao et al., ECCV 2020): CSNet backbone + cross-stage fusion head.
# The layer table below is the initial (unpruned) "x1" model, width w = 20,
# two scales per block split evenly (see csnet_mmseg.models.LayerTable.initial).
# Each list gives the channels per scale (scale k runs at 1/2^k resolution).
# Plain convolutions (conv gain 1, no conv_cfg): the form of the released
# inference configs (csnet_l_x1.py / x2.py). The training configs
# (csnet_duts.py, csnet_synthetic.py) set the released training code's gain,
# conv_cfg=dict(type='ScaledConv2d', gain=100.0), on backbone and head.
norm_cfg = dict(type='BN', requires_grad=True)
# FastPReLU: nn.PReLU (one slope per channel, same weights and state dict)
# with a faster CPU backward; forward values and input gradients are
# identical, slope gradients equal to float rounding. dict(type='PReLU')
# builds the plain one.
act_cfg = dict(type='FastPReLU')
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],  # ImageNet mean/std, RGB order
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=1)  # pads a batch to its largest image (all 224x224 here)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='CSNet',
        in_channels=3,
        stem_channels=[10, 10],
        stage_channels=[
            [[10, 10], [10, 10], [10, 10]],                      # stage 1, 1/1
            [[20, 20], [20, 20], [20, 20], [40]],                # stage 2, 1/2
            [[40, 40], [40, 40], [40, 40], [40, 40], [40, 40],
             [80]],                                              # stage 3, 1/4
            [[40, 40], [40, 40], [40, 40], [80]],                # stage 4, 1/8
        ],
        strides=(1, 2, 2, 2),
        out_indices=(1, 2, 3),
        norm_cfg=norm_cfg,
        act_cfg=act_cfg),
    decode_head=dict(
        type='CSFHead',
        in_channels=[40, 80, 80],
        in_index=[0, 1, 2],
        fuse_channels=[20, 40, 40],
        dilations=(1, 2, 4, 8, 16),
        dilation_channels=[[4, 4, 4, 4, 4], [8, 8, 8, 8, 8], [8, 8, 8, 8, 8]],
        channels=80,
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        norm_cfg=norm_cfg,
        act_cfg=act_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
