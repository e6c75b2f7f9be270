# The 107-image PASCAL-S development subset (masks with 13 grey levels), for
# loader/metric checks and short runs: $SOD_DATA_ROOT/pascal-s-dev (default
# data/sod/pascal-s-dev, relative to the repository root, where the tools
# run). It is too small to judge accuracy; train and val use the same
# images. Pipelines: sod_pipelines.py.
# Keys of the metric: pascal-s-dev/MAE, ... and MAE, maxF, ...
_base_ = ['./sod_pipelines.py']
data_root = '{{$SOD_DATA_ROOT:data/sod}}/pascal-s-dev'
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root=data_root,
        data_prefix=dict(img_path='images', seg_map_path='GT'),
        dataset_name='pascal-s-dev',
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root=data_root,
        data_prefix=dict(img_path='images', seg_map_path='GT'),
        dataset_name='pascal-s-dev',
        test_mode=True,
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator
