# The synthetic SOD set for quick CPU checks. Make it first with
#   python tools/misc/make_synthetic_sod.py data/synthetic_sod
# (train/{images,GT} and val/{images,GT}; images of 96-160 px).
# Keys of the metric: synthetic_sod_val/MAE, ... and MAE, maxF, ...
dataset_type = 'SODDataset'
data_root = 'data/synthetic_sod'
img_scale = (224, 224)
sod_meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                 'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                 'reduce_zero_label', 'dataset_name')
train_pipeline = [
    dict(type='LoadSODImage'),
    dict(type='LoadSODAnnotations'),
    dict(type='SODRandomCrop', max_crop=14),
    dict(type='RandomFlipLRUD', prob=0.5),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='PackSegInputs', meta_keys=sod_meta_keys),
]
test_pipeline = [
    dict(type='LoadSODImage'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='LoadSODAnnotations'),
    dict(type='PackSegInputs', meta_keys=sod_meta_keys),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train/images', seg_map_path='train/GT'),
        dataset_name='synthetic_sod_train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val/images', seg_map_path='val/GT'),
        dataset_name='synthetic_sod_val',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator
