# The short fine-tune of the DWD experiment after pruning: the narrowed model
# (its table and weights passed as for configs/csnet_duts_finetune.py) trained
# with plain Adam at the arms' final lr (5e-5), standard weight decay 5e-3 on
# every parameter, 300 iterations of batch 8 at 112x112.
#   SOD_DATA_ROOT=../shared/data python tools/train.py \
#       experiments/dwd/configs/csnet_x1_duts224_finetune.py \
#       --cfg-options model.layer_table=<pruned>/pruned_config.py \
#       load_from=<pruned>/pruned.pth
_base_ = ['./csnet_x1_duts224_base.py']
model = dict(
    type='CSNetEncoderDecoder', layer_table=None, require_layer_table=True)
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=5e-5, betas=(0.9, 0.99),
                   weight_decay=5e-3))
param_scheduler = []
train_cfg = dict(max_iters=300, val_begin=300, val_interval=300)
default_hooks = dict(checkpoint=dict(interval=300))
