# Arm "l2" of the DWD experiment: the targeted gammas get the standard L2
# weight decay 5e-3 of Adam, as every other parameter (a plain
# OptimWrapper; this is the base config's optimizer).
_base_ = ['./csnet_x1_duts224_base.py']
