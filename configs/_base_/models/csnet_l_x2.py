# csnet-L-x2, the released model (140,894 parameters; 788,631 before
# pruning): ./csnet.py with the learned layer table of the released
# checkpoint (layer_config_csnet-L-x2.json).
_base_ = ['./csnet.py']
model = dict(
    backbone=dict(
        stem_channels=[13, 10],
        stage_channels=[
            [[13, 12], [18, 11], [18, 12]],
            [[28, 21], [34, 22], [31, 29], [51]],
            [[23, 26], [27, 26], [25, 20], [17, 21], [19, 25], [38]],
            [[18, 31], [31, 27], [26, 44], [64]],
        ]),
    decode_head=dict(
        in_channels=[51, 38, 64],
        fuse_channels=[17, 38, 32],
        dilation_channels=[[2, 1, 2, 2, 1], [0, 6, 6, 7, 5], [0, 1, 3, 7, 7]],
        channels=79))
