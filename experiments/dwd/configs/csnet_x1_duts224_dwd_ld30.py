# Variant of the DWD arm: a 10x larger lambda_d (30.0 instead of the released
# 3.0); everything else as the dwd arm.
_base_ = ['./csnet_x1_duts224_dwd.py']
optim_wrapper = dict(dynamic_decay=30.0)
