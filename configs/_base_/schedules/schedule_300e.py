# The paper's schedule: 300 epochs of Adam (lr 1e-4, betas 0.9/0.99),
# lr x0.1 at epochs 200 and 250, standard weight decay 5e-3.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.99), weight_decay=5e-3))
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=True,
        milestones=[200, 250],
        gamma=0.1,
        begin=0,
        end=300)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300, val_interval=10)
val_cfg = dict(type='ValLoop')
log_processor = dict(by_epoch=True)
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=10,
                    max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
