#!/usr/bin/env bash
# The README's main job on an embedded default: install, then on a generated
# synthetic SOD data set train CSNet with dynamic weight decay -> prune ->
# fine-tune -> test, printing the params/FLOPs table and the SOD metrics at
# each step.
#   bash tools/demo.sh
# Env: PRUNE_THRESHOLD (default: the 25th percentile of the prunable layers'
# |gamma| in the trained checkpoint. 300 CPU iterations do not drive any gamma
# to the released threshold 1e-20 - see docs/dynamic_weight_decay.md - so the
# demo shows the mechanics of prune -> fine-tune with a data-driven
# threshold), VENV.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
PY=${VENV:-$(pwd)/.venv}/bin/python
DEMO_DIR=work_dirs/demo  # configs/csnet_synthetic_finetune.py reads $DEMO_DIR/pruned
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
  THRESHOLD=$PRUNE_THRESHOLD
else
  THRESHOLD=$("$PY" - "$CKPT" <<'PYEOF'
import re, sys
import numpy as np
import torch
sd = torch.load(sys.argv[1], map_location='cpu', weights_only=False)['state_dict']
prunable = re.compile(r'(conv_mix|decode_head\.(fuse|merge|multi_dilation))'
                      r'\.norm_act\.norms\.\d+\.weight$')
g = np.concatenate([v.abs().flatten().numpy() for k, v in sd.items()
                    if prunable.search(k)])
print(f'{np.percentile(g, 25):.6g}')
PYEOF
)
  say "no gamma is near the released threshold 1e-20 after this short run: using the 25th percentile of |gamma|, $THRESHOLD (set PRUNE_THRESHOLD to choose)"
fi
say "step 4/5: pruning channels with |gamma| < $THRESHOLD (params/FLOPs table below)"
"$PY" tools/prune.py configs/csnet_synthetic.py "$CKPT" --threshold "$THRESHOLD" \
  --out-dir "$DEMO_DIR/pruned"
"$PY" tools/test.py "$DEMO_DIR/pruned/pruned_config.py" "$DEMO_DIR/pruned/pruned.pth" \
  --work-dir "$DEMO_DIR/test_pruned"

say "step 5/5: fine-tuning the narrowed model, then testing it"
"$PY" tools/train.py configs/csnet_synthetic_finetune.py --work-dir "$DEMO_DIR/finetune" \
  --cfg-options "load_from=$DEMO_DIR/pruned/pruned.pth"
FT=$(cat "$DEMO_DIR/finetune/last_checkpoint")
"$PY" tools/test.py configs/csnet_synthetic_finetune.py "$FT" --work-dir "$DEMO_DIR/test_finetuned"

say "summary"
cat "$DEMO_DIR/pruned/summary.md" | tail -n 8
for d in test_wide test_pruned test_finetuned; do
  echo "$d: $(grep -h -o 'synthetic_sod_val/MAE: [0-9.]*  synthetic_sod_val/maxF: [0-9.]*' -r "$DEMO_DIR/$d" | tail -n 1)"
done
say "done: everything is in $DEMO_DIR"
