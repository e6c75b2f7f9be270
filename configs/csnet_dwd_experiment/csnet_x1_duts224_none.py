# Arm "none" of the DWD experiment: no decay at all on the targeted gammas
# (DynamicWeightDecayOptimWrapper with dynamic_decay=0 gives them
# weight_decay 0; every other parameter keeps 5e-3).
_base_ = ['./csnet_x1_duts224_base.py']
optim_wrapper = dict(
    _delete_=True,
    type='DynamicWeightDecayOptimWrapper',
    constructor='DynamicWeightDecayOptimWrapperConstructor',
    optimizer=dict(
        type='Adam', lr={{_base_.lr}}, betas=(0.9, 0.99), weight_decay=5e-3),
    dynamic_decay=0.0,
    metric='gap')
