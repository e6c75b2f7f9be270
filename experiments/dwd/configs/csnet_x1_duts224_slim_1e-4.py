# Arm "slim_1e-4" of the DWD experiment: network slimming (Liu et al., ICCV
# 2017), the method the paper builds on: an L1 penalty 1e-4 * |gamma| on the
# targeted gammas (l1_decay adds 1e-4 * sign(gamma) to their gradient), no
# dynamic term and no standard decay on them; 5e-3 on every other parameter,
# as in the dwd arm.
_base_ = ['./csnet_x1_duts224_dwd.py']
optim_wrapper = dict(dynamic_decay=0.0, l1_decay=1e-4)
