# DUTS-TR downscaled to a longer side of 224 px, with a fixed split
# (train.txt: 10,050 names, val.txt: 503, every 21st name in sorted order).
# The folder layout is the original DUTS-TR one:
#   <data_root>/DUTS-TR-Image/<name>.jpg   <data_root>/DUTS-TR-Mask/<name>.png
#   <data_root>/train.txt                  <data_root>/val.txt
# data_root is $SOD_DATA_ROOT/duts-tr-224 (default data/sod/duts-tr-224,
# relative to the repository root, where the tools run). For a full-size
# DUTS-TR see ./duts.py. Pipelines: sod_pipelines.py.
# Keys of the metric: DUTS-TR-224-val/MAE, ... (and MAE, maxF, ...).
_base_ = ['./sod_pipelines.py']
data_root = '{{$SOD_DATA_ROOT:data/sod}}/duts-tr-224'
train_dataloader = dict(
    batch_size=24,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root=data_root,
        data_prefix=dict(
            img_path='DUTS-TR-Image', seg_map_path='DUTS-TR-Mask'),
        ann_file='train.txt',
        dataset_name='DUTS-TR-224',
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root=data_root,
        data_prefix=dict(
            img_path='DUTS-TR-Image', seg_map_path='DUTS-TR-Mask'),
        ann_file='val.txt',
        dataset_name='DUTS-TR-224-val',
        test_mode=True,
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator
