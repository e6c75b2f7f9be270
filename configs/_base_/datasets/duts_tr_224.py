# DUTS-TR downscaled to a longer side of 224 px, with the fixed split of
# ../shared/data/duts-tr-224 (train.txt: 10,050 names, val.txt: 503, every
# 21st name in sorted order). The folder layout is the original DUTS-TR one:
#   <data_root>/DUTS-TR-Image/<name>.jpg   <data_root>/DUTS-TR-Mask/<name>.png
#   <data_root>/train.txt                  <data_root>/val.txt
# data_root is $SOD_DATA_ROOT/duts-tr-224, or ../shared/data/duts-tr-224
# (relative to the repository root, where the tools run) when SOD_DATA_ROOT
# is not set. For a full-size DUTS-TR see ./duts.py.
# Keys of the metric: DUTS-TR-224-val/MAE, ... (and MAE, maxF, ...).
dataset_type = 'SODDataset'
data_root = '{{$SOD_DATA_ROOT:../shared/data}}/duts-tr-224'
img_scale = (224, 224)
sod_meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                 'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                 'reduce_zero_label', 'dataset_name')
# Paper augmentation: crop 0-14 px from each border, random LR/UD flip,
# resize to 224x224 (ImageNet mean/std in the model's data preprocessor).
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
    batch_size=24,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='DUTS-TR-Image', seg_map_path='DUTS-TR-Mask'),
        ann_file='train.txt',
        dataset_name='DUTS-TR-224',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='DUTS-TR-Image', seg_map_path='DUTS-TR-Mask'),
        ann_file='val.txt',
        dataset_name='DUTS-TR-224-val',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator
