#!/usr/bin/env bash
# The main job: sets up and builds attnsim, then simulates BERT-base with each vanilla attention
# schedule on the embedded hardware presets, writes each report under OUT_DIR (default: out/main)
# and collects the headline figures of every run in OUT_DIR/summary.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
OUT_DIR=${1:-out/main}
mkdir -p "$OUT_DIR"
runs=()
for hw in edge cloud; do
  for n in 512 4096; do
    for v in unfused row_fused flash; do runs+=("$hw $n $v fp16"); done
  done
done
for v in unfused row_fused flash; do runs+=("tpu-v1 512 $v int8"); done
summary="$OUT_DIR/summary.csv"
rm -f "$summary"
for r in "${runs[@]}"; do
  read -r hw n v dtype <<<"$r"
  dir="$OUT_DIR/bert-base-$hw-n$n-$v"
  echo "== BERT-base on $hw, N = $n, $v =="
  build/attnsim run --hw "$hw" --model bert-base --seq-len "$n" --variant "$v" --dtype "$dtype" --out "$dir"
  if [[ ! -f "$summary" ]]; then head -n 1 "$dir/report.csv" >"$summary"; fi
  tail -n 1 "$dir/report.csv" >>"$summary"
done
echo "reports in $OUT_DIR/, headline figures in $summary"
