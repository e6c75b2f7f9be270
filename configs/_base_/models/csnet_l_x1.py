# csnet-L-x1, the released model (93,647 parameters): ./csnet.py with the
# layer table learned by dynamic weight decay + pruning in the released
# checkpoint (layer_config_csnet-L-x1.json).
_base_ = ['./csnet.py']
model = dict(
    backbone=dict(
        stem_channels=[8, 10],
        stage_channels=[
            [[9, 10], [10, 10], [10, 10]],
            [[19, 13], [19, 17], [20, 12], [34]],
            [[24, 21], [26, 27], [22, 18], [19, 18], [23, 18], [38]],
            [[18, 29], [25, 24], [26, 20], [50]],
        ]),
    decode_head=dict(
        in_channels=[34, 38, 50],
        fuse_channels=[12, 24, 24],
        dilation_channels=[[1, 2, 2, 2, 4], [1, 4, 4, 4, 5], [2, 2, 4, 5, 4]],
        channels=60))
