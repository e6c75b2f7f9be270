# Arm "none" of the DWD experiment: no decay at all on the targeted gammas
# (the dwd arm's wrapper with dynamic_decay=0 gives them weight_decay 0;
# every other parameter keeps 5e-3).
_base_ = ['./csnet_x1_duts224_dwd.py']
optim_wrapper = dict(dynamic_decay=0.0)
