#!/usr/bin/env bash
# The main job: sets up and builds attnsim, then simulates a representative GEMM on every embedded
# hardware preset and writes each report under OUT_DIR (default: out/main).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
OUT_DIR=${1:-out/main}
mkdir -p "$OUT_DIR"
# A BERT-base attention score GEMM for one head: Q (512 x 64) times K^T (64 x 512).
for hw in edge cloud tpu-v1; do
  echo "== $hw: GEMM 512 x 64 x 512 =="
  build/attnsim gemm --hw "$hw" --m 512 --k 64 --n 512 --out "$OUT_DIR/gemm-$hw"
done
echo "reports in $OUT_DIR/"
