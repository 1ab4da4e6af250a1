#!/usr/bin/env bash
# The main job: sets up and builds attnsim, then compares the attention variants (vanilla unfused,
# row-fused and flash against primal, low-rank linear, Linformer, Performer and Nystromformer) on the embedded
# models and hardware presets, with `attnsim compare`. Each comparison writes compare.json and
# compare.csv under OUT_DIR (default: out/main); OUT_DIR/summary.csv collects every row.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
OUT_DIR=${1:-out/main}
JOBS=$(nproc 2>/dev/null || echo 2)
mkdir -p "$OUT_DIR"
ALL=flash,unfused,row_fused,primal,lowrank_linear,linformer,performer,nystromformer
summary="$OUT_DIR/summary.csv"
rm -f "$summary"
compare() {  # NAME HW MODEL SEQ_LENS VARIANTS [extra args]
  local name=$1 hw=$2 model=$3 lens=$4 variants=$5
  shift 5
  echo "== $name: $model on $hw, N = $lens =="
  build/attnsim compare --hw "$hw" --model "$model" --seq-lens "$lens" --variants "$variants" --jobs "$JOBS" \
    --out "$OUT_DIR/$name" "$@"
  if [[ ! -f "$summary" ]]; then
    { printf 'comparison,hardware,model,'; head -n 1 "$OUT_DIR/$name/compare.csv"; } >"$summary"
  fi
  tail -n +2 "$OUT_DIR/$name/compare.csv" | sed "s|^|$name,$hw,$model,|" >>"$summary"
}
compare lra-edge edge lra-text 1024,4096 "$ALL"
# Row-fused is refused on edge at N = 16384 (its 5-row query blocks would move more bytes than
# spilling the scores), so that length compares the others.
compare lra-edge-16k edge lra-text 16384 "${ALL/,row_fused/}"
compare lra-cloud cloud lra-text 1024,4096,16384 "$ALL"
compare bert-edge edge bert-base 512,4096 "$ALL"
compare bert-cloud cloud bert-base 512,4096 "$ALL"
compare deit-edge edge deit-s 197 flash,unfused,primal:rank=96
compare bert-tpu tpu-v1 bert-base 512 flash,unfused,primal,lowrank_linear --dtype int8
# The published hybrids, whole models as the papers run them.
for hw in edge cloud; do
  for model in deit-s-primal lra-text-hybrid; do
    echo "== $model on $hw =="
    build/attnsim run --hw "$hw" --model "$model" --out "$OUT_DIR/$model-$hw"
  done
done
echo "comparisons in $OUT_DIR/*/compare.csv, every row in $summary"
