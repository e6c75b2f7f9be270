# Arm "dwd" of the DWD experiment: the paper's dynamic weight decay on the
# targeted gammas (lambda_d = 3.0, metric |GAP| of the channel's output after
# BN + PReLU), no standard decay on them; 5e-3 on every other parameter.
_base_ = ['./csnet_x1_duts224_base.py']
optim_wrapper = dict(
    _delete_=True,
    type='DynamicWeightDecayOptimWrapper',
    constructor='DynamicWeightDecayOptimWrapperConstructor',
    optimizer=dict(
        type='Adam', lr={{_base_.lr}}, betas=(0.9, 0.99), weight_decay=5e-3),
    dynamic_decay=3.0,
    metric='gap')
