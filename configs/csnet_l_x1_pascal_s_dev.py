# csnet-L-x1 tested on the 107-image PASCAL-S development subset in ../shared
# (run the tools from the repository root). A subset: too small to rank models.
_base_ = ['./csnet_l_x1.py']
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='SODDataset',
        data_root='../shared/data/pascal-s-dev',
        data_prefix=dict(img_path='images', seg_map_path='GT'),
        dataset_name='pascal-s-dev',
        test_mode=True,
        pipeline={{_base_.sod_bench_pipeline}}))
