# Step 3 of the paper's recipe: fine-tune the narrowed CSNet that step 2
# (the ChannelPruningHook at the end of configs/csnet_duts.py, or
# tools/prune.py) wrote, with the released fine-tune schedule: 20 epochs of
# Adam (betas 0.9/0.99) at a constant lr 1e-7, standard weight decay 5e-3 on
# every parameter (no dynamic decay: the channel counts are settled),
# validated every epoch, the best checkpoint by ECSSD/MAE kept.
# The narrowed table and weights are passed like any MMSeg checkpoint:
#   python tools/train.py configs/csnet_duts_finetune.py --cfg-options \
#       model.layer_table=work_dirs/csnet_duts/pruned/pruned_config.py \
#       load_from=work_dirs/csnet_duts/pruned/pruned.pth
# (without model.layer_table the model refuses to build).
_base_ = ['./csnet_duts.py']
model = dict(
    type='CSNetEncoderDecoder', layer_table=None, require_layer_table=True)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-7, betas=(0.9, 0.99),
                   weight_decay=5e-3))
param_scheduler = []  # constant lr, as the released fine-tune
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20, val_interval=1)
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=True,
        interval=1,
        max_keep_ckpts=3,
        save_best='ECSSD/MAE',
        rule='less'))
custom_hooks = [dict(type='FlushDenormalHook')]  # no pruning hook
