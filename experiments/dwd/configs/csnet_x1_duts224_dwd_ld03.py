# Variant of the DWD arm: a 10x smaller lambda_d (0.3 instead of the released
# 3.0), which tests whether the decay term dominating the loss gradient is
# what keeps the DWD arm from separating the channels; everything else as the
# dwd arm.
_base_ = ['./csnet_x1_duts224_dwd.py']
optim_wrapper = dict(dynamic_decay=0.3)
