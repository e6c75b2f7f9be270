# DUTS-TR training (10,553 images) as in the CSNet paper, validation on
# ECSSD, test on the six benchmarks (inherited from sod_benchmarks.py).
# Layout under data_root (set it once with the environment variable
# SOD_DATA_ROOT, default data/sod; see docs/datasets.md):
#   DUTS-TR/DUTS-TR-Image/*.jpg   DUTS-TR/DUTS-TR-Mask/*.png
#   ECSSD/images/*.jpg            ECSSD/GT/*.png
# and the benchmarks of sod_benchmarks.py. Pipelines: sod_pipelines.py.
_base_ = ['./sod_benchmarks.py']
data_root = '{{$SOD_DATA_ROOT:data/sod}}'
train_dataloader = dict(
    batch_size=24,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root=data_root + '/DUTS-TR',
        data_prefix=dict(
            img_path='DUTS-TR-Image', seg_map_path='DUTS-TR-Mask'),
        dataset_name='DUTS-TR',
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root=data_root + '/ECSSD',
        data_prefix=dict(img_path='images', seg_map_path='GT'),
        dataset_name='ECSSD',
        pipeline={{_base_.test_pipeline}}))
# Keys: ECSSD/MAE, ECSSD/maxF, ... (and MAE, maxF, ... as one set is used).
val_evaluator = dict(type='SODMetric')
