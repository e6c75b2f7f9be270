# The six SOD benchmarks of the CSNet paper, tested in one run
# (tools/test.py): one ConcatDataset, one table and one set of keys per
# benchmark ('ECSSD/MAE', 'PASCAL-S/maxF', ...).
# Set the root once: SOD_DATA_ROOT=/path/to/sod python tools/test.py ...
# (default data/sod). Expected layout under it (see docs/datasets.md):
#   ECSSD/{images,GT}      PASCAL-S/{images,GT}   DUT-OMRON/{images,GT}
#   HKU-IS/{images,GT}     SOD/{images,GT}
#   DUTS-TE/{DUTS-TE-Image,DUTS-TE-Mask}
# duts.py inherits this file (train on DUTS-TR, validate on ECSSD, test on
# all six). No test_cfg here: it comes with the schedule (or set
# test_cfg = dict(type='TestLoop') in the config).
_base_ = ['./sod_pipelines.py']
sod_bench_root = '{{$SOD_DATA_ROOT:data/sod}}'
# The test pipeline under a name of its own: a model config may replace
# test_pipeline by one for plain images (configs/_base_/csnet_l.py).
sod_bench_pipeline = {{_base_.test_pipeline}}
sod_bench_images = dict(img_path='images', seg_map_path='GT')
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(
                type='SODDataset',
                data_root=sod_bench_root + '/ECSSD',
                data_prefix=sod_bench_images,
                dataset_name='ECSSD',
                test_mode=True,
                pipeline=sod_bench_pipeline),
            dict(
                type='SODDataset',
                data_root=sod_bench_root + '/PASCAL-S',
                data_prefix=sod_bench_images,
                dataset_name='PASCAL-S',
                test_mode=True,
                pipeline=sod_bench_pipeline),
            dict(
                type='SODDataset',
                data_root=sod_bench_root + '/DUT-OMRON',
                data_prefix=sod_bench_images,
                dataset_name='DUT-OMRON',
                test_mode=True,
                pipeline=sod_bench_pipeline),
            dict(
                type='SODDataset',
                data_root=sod_bench_root + '/HKU-IS',
                data_prefix=sod_bench_images,
                dataset_name='HKU-IS',
                test_mode=True,
                pipeline=sod_bench_pipeline),
            dict(
                type='SODDataset',
                data_root=sod_bench_root + '/SOD',
                data_prefix=sod_bench_images,
                dataset_name='SOD',
                test_mode=True,
                pipeline=sod_bench_pipeline),
            dict(
                type='SODDataset',
                data_root=sod_bench_root + '/DUTS-TE',
                data_prefix=dict(
                    img_path='DUTS-TE-Image', seg_map_path='DUTS-TE-Mask'),
                dataset_name='DUTS-TE',
                test_mode=True,
                pipeline=sod_bench_pipeline),
        ]))
test_evaluator = dict(type='SODMetric')
