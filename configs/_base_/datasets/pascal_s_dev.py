# The PASCAL-S development subset shipped beside the project (107 images,
# masks with 13 grey levels), for loader/metric checks and short runs. The
# path is relative to the repository root (run the tools from there).
# It is too small to judge accuracy; train and val use the same images.
# Keys of the metric: pascal-s-dev/MAE, ... and MAE, maxF, ...
dataset_type = 'SODDataset'
data_root = '../shared/data/pascal-s-dev'
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
        data_prefix=dict(img_path='images', seg_map_path='GT'),
        dataset_name='pascal-s-dev',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images', seg_map_path='GT'),
        dataset_name='pascal-s-dev',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator
