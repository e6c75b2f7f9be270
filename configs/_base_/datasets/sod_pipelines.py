# The SOD pipelines, in one place: every dataset config of this folder
# inherits this file (see docs/datasets.md, "Augmentation and pipelines").
# A config at another input size builds its pipelines from these ones
# (e.g. configs/csnet_synthetic.py), so that they are written only here.
dataset_type = 'SODDataset'
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
