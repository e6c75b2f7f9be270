# The synthetic SOD set for quick CPU checks. Make it first with
#   python tools/misc/make_synthetic_sod.py data/synthetic_sod
# (train/{images,GT} and val/{images,GT}; images of 96-160 px).
# Pipelines: sod_pipelines.py.
# Keys of the metric: synthetic_sod_val/MAE, ... and MAE, maxF, ...
_base_ = ['./sod_pipelines.py']
data_root = 'data/synthetic_sod'
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root=data_root,
        data_prefix=dict(img_path='train/images', seg_map_path='train/GT'),
        dataset_name='synthetic_sod_train',
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root=data_root,
        data_prefix=dict(img_path='val/images', seg_map_path='val/GT'),
        dataset_name='synthetic_sod_val',
        test_mode=True,
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator
