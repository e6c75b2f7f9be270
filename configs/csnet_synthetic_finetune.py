# Fine-tune the narrowed CSNet of the README demo (train -> prune ->
# fine-tune -> test). Run everything from the repository root:
#   python tools/train.py configs/csnet_synthetic.py --work-dir work_dirs/demo/train
#   python tools/prune.py configs/csnet_synthetic.py \
#       work_dirs/demo/train/iter_600.pth --max-increase MAE=0.002 \
#       --input-size 112 112 --out-dir work_dirs/demo/pruned
#   python tools/train.py configs/csnet_synthetic_finetune.py \
#       --work-dir work_dirs/demo/finetune --cfg-options \
#       model.layer_table=work_dirs/demo/pruned/pruned_config.py \
#       load_from=work_dirs/demo/pruned/pruned.pth
#   python tools/test.py work_dirs/demo/finetune/csnet_synthetic_finetune.py \
#       work_dirs/demo/finetune/iter_100.pth
# The narrowed layer table and weights come in through --cfg-options (the
# model refuses to build without model.layer_table). 100 iterations of plain
# Adam (lr 2e-3, x0.1 at 80; weight decay 5e-3 on every parameter, no
# dynamic decay: the channel counts are settled), no pruning hook. See
# docs/pruning.md.
_base_ = ['./csnet_synthetic.py']
model = dict(
    type='CSNetEncoderDecoder', layer_table=None, require_layer_table=True)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=2e-3, betas=(0.9, 0.99),
                   weight_decay=5e-3))
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=False,
        milestones=[80],
        gamma=0.1,
        begin=0,
        end=100)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=100, val_interval=50)
default_hooks = dict(checkpoint=dict(interval=50))
custom_hooks = []
