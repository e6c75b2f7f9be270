# ./csnet_l.py tested on the 107-image PASCAL-S development subset
# (configs/csnet_l_x1_pascal_s_dev.py, csnet_l_x2_pascal_s_dev.py) instead
# of the six benchmarks: $SOD_DATA_ROOT/pascal-s-dev, default
# data/sod/pascal-s-dev (as ./datasets/pascal_s_dev.py).
_base_ = ['./csnet_l.py']
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='SODDataset',
        data_root='{{$SOD_DATA_ROOT:data/sod}}/pascal-s-dev',
        data_prefix=dict(img_path='images', seg_map_path='GT'),
        dataset_name='pascal-s-dev',
        test_mode=True,
        pipeline={{_base_.sod_bench_pipeline}}))
