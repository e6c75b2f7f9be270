#!/usr/bin/env bash
# The README's main job on an embedded default: install, then on a generated
# synthetic SOD data set train CSNet with dynamic weight decay -> prune ->
# fine-tune -> test, printing the params/FLOPs table and the SOD metrics at
# each step.
#   bash tools/demo.sh
# The pruning threshold is searched (tools/prune.py --max-increase): the
# largest one whose pruned model loses at most MAE +MAX_INCREASE (default
# 0.002) on the synthetic validation split. Env: MAX_INCREASE,
# PRUNE_THRESHOLD (a fixed threshold instead of the search), VENV.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
PY=${VENV:-$(pwd)/.venv}/bin/python
DEMO_DIR=work_dirs/demo
MAX_INCREASE=${MAX_INCREASE:-0.002}
DATA=data/synthetic_sod
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

say() { printf '\n===== [demo %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ -e "$DEMO_DIR" ]; then
  old="$DEMO_DIR.$(date +%Y%m%d-%H%M%S)"
  say "moving the previous $DEMO_DIR aside to $old (nothing is deleted)"
  mv "$DEMO_DIR" "$old"
fi
if [ -d "$DATA/train" ] && [ -d "$DATA/val" ]; then
  say "step 1/5: reusing the synthetic data set in $DATA"
else
  say "step 1/5: generating the synthetic data set in $DATA"
  "$PY" tools/misc/make_synthetic_sod.py "$DATA"
fi

say "step 2/5: training with dynamic weight decay (configs/csnet_synthetic.py)"
"$PY" tools/train.py configs/csnet_synthetic.py --work-dir "$DEMO_DIR/train"
CKPT=$(cat "$DEMO_DIR/train/last_checkpoint")

say "step 3/5: testing the wide model ($CKPT)"
"$PY" tools/test.py configs/csnet_synthetic.py "$CKPT" --work-dir "$DEMO_DIR/test_wide"

if [ -n "${PRUNE_THRESHOLD:-}" ]; then
  say "step 4/5: pruning channels with |gamma| < $PRUNE_THRESHOLD (PRUNE_THRESHOLD; params/FLOPs table below)"
  "$PY" tools/prune.py configs/csnet_synthetic.py "$CKPT" --threshold "$PRUNE_THRESHOLD" \
    --input-size 112 112 --out-dir "$DEMO_DIR/pruned"
else
  say "step 4/5: searching the largest pruning threshold that costs at most MAE +$MAX_INCREASE on the validation split, then pruning at it (params/FLOPs table below)"
  "$PY" tools/prune.py configs/csnet_synthetic.py "$CKPT" --max-increase "MAE=$MAX_INCREASE" \
    --input-size 112 112 --out-dir "$DEMO_DIR/pruned"
fi
"$PY" tools/test.py "$DEMO_DIR/pruned/pruned_config.py" "$DEMO_DIR/pruned/pruned.pth" \
  --work-dir "$DEMO_DIR/test_pruned"

say "step 5/5: fine-tuning the narrowed model, then testing it"
"$PY" tools/train.py configs/csnet_synthetic_finetune.py --work-dir "$DEMO_DIR/finetune" \
  --cfg-options "model.layer_table=$DEMO_DIR/pruned/pruned_config.py" \
  "load_from=$DEMO_DIR/pruned/pruned.pth"
FT=$(cat "$DEMO_DIR/finetune/last_checkpoint")
"$PY" tools/test.py "$DEMO_DIR/finetune/csnet_synthetic_finetune.py" "$FT" \
  --work-dir "$DEMO_DIR/test_finetuned"

say "summary"
grep -h "Chosen threshold" "$DEMO_DIR/pruned/search.md" 2>/dev/null || true
cat "$DEMO_DIR/pruned/summary.md" | tail -n 8
for d in test_wide test_pruned test_finetuned; do
  echo "$d: $(grep -h -o 'synthetic_sod_val/MAE: [0-9.]*  synthetic_sod_val/maxF: [0-9.]*' -r "$DEMO_DIR/$d" | tail -n 1)"
done
[ -f "$DEMO_DIR/pruned/search.png" ] && echo "threshold search: curve $DEMO_DIR/pruned/search.md, plot $DEMO_DIR/pruned/search.png"
say "done: everything is in $DEMO_DIR"
