#!/usr/bin/env bash
# The README's main job on a fresh machine: install (into .venv unless a virtualenv is active), generate the
# embedded dataset, train a small SlowFast on it, run the multi-view test, export for Paddle Inference, predict.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/_setup_env.sh" "cpu"
CONFIG="${CONFIG:-configs/quickstart.yaml}"
OUT="output/SlowFast_quickstart"
START=$(date +%s)
stamp() { echo "[quickstart] $1 ($(( $(date +%s) - START )) s)"; }

paddlevideo summary -c configs/slowfast.yaml   # the R50 4x16 recipe the quickstart inherits: 34.48 M, 27.8 GMAC
paddlevideo summary -c "$CONFIG"
stamp "data"
[ -f data/embedded/train.list ] || paddlevideo make-data --out data/embedded --seed 0
stamp "train"
paddlevideo train -c "$CONFIG" --validate --output "$OUT" "$@"
stamp "test (10x3 views, decoded once per video)"
paddlevideo test -c "$CONFIG" -w "$OUT/SlowFast_quickstart_best.pdparams" --output "$OUT/test"
stamp "export"
paddlevideo export -c "$CONFIG" -w "$OUT/SlowFast_quickstart_best.pdparams" --output "$OUT/inference"
stamp "predict"
VIDEO="$(head -n 1 data/embedded/val.list | cut -d' ' -f1)"
paddlevideo predict --model "$OUT/inference" --video "data/embedded/$VIDEO" --top-k 5
stamp "done"
echo "outputs: checkpoints and logs in $OUT, test report in $OUT/test, inference model in $OUT/inference"
