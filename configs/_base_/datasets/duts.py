# DUTS-TR training (10,553 images) as in the CSNet paper, validation on ECSSD.
# Layout under data_root (set it once with the environment variable
# SOD_DATA_ROOT, default data/sod; see docs/datasets.md):
#   DUTS-TR/DUTS-TR-Image/*.jpg   DUTS-TR/DUTS-TR-Mask/*.png
#   ECSSD/images/*.jpg            ECSSD/GT/*.png
# This file defines no test_dataloader, so that it can be combined with
# sod_benchmarks.py (test on the six benchmarks); a config without it must
# set test_dataloader/test_evaluator itself (e.g. = val_dataloader).
dataset_type = 'SODDataset'
data_root = '{{$SOD_DATA_ROOT:data/sod}}'
img_scale = (224, 224)
# dataset_name is needed by SODMetric to report each data set separately.
sod_meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                 'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                 'reduce_zero_label', 'dataset_name')
# Paper augmentation: crop 0-14 px from each border, random LR/UD flip,
# resize to 224x224. ImageNet mean/std normalisation (RGB) is done by the
# model's SegDataPreProcessor.
train_pipeline = [
    dict(type='LoadSODImage'),
    dict(type='LoadSODAnnotations'),
    dict(type='SODRandomCrop', max_crop=14),
    dict(type='RandomFlipLRUD', prob=0.5),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='PackSegInputs', meta_keys=sod_meta_keys),
]
# Resize the image only; the mask stays at the original size, as the
# prediction is resized back to it.
test_pipeline = [
    dict(type='LoadSODImage'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='LoadSODAnnotations'),
    dict(type='PackSegInputs', meta_keys=sod_meta_keys),
]
train_dataloader = dict(
    batch_size=24,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root + '/DUTS-TR',
        data_prefix=dict(
            img_path='DUTS-TR-Image', seg_map_path='DUTS-TR-Mask'),
        dataset_name='DUTS-TR',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root + '/ECSSD',
        data_prefix=dict(img_path='images', seg_map_path='GT'),
        dataset_name='ECSSD',
        pipeline=test_pipeline))
# Keys: ECSSD/MAE, ECSSD/maxF, ... (and MAE, maxF, ... as one set is used).
val_evaluator = dict(type='SODMetric')
