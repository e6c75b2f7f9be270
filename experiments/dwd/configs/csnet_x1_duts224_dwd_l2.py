# Variant of the DWD arm: the targeted gammas get the dynamic term AND the
# standard L2 weight decay 5e-3 (as the released training code's optimizer
# groups give its conv3x3_2 gammas both); everything else as the dwd arm.
_base_ = ['./csnet_x1_duts224_dwd.py']
optim_wrapper = dict(target_weight_decay=5e-3)
