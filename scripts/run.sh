#!/usr/bin/env bash
# The main job: sets up and builds attnsim, then
#   1. the default sweep (configs/sweeps/default.json): vanilla unfused and flash attention against
#      primal attention and the low-rank linear form, on the edge and cloud presets, LRA text model,
#      N = 256 ... 65536;
#   2. a design-space sweep on edge at N = 4096 (configs/sweeps/design.json): array size x SRAM;
#   3. traced runs of flash and primal (edge, N = 4096): utilization timelines and Perfetto traces;
#   4. plots (scaling, Pareto, stalls, timelines, energy) and a markdown summary: cycles and traffic
#      (scripts/sweep_summary.py), energy and area (scripts/energy_summary.py: attention's share of each
#      run's energy, the softmax unit's area and what dropping it saves primal, from `attnsim area`), and
#      the project's claims about vanilla and primal attention and their verdicts (scripts/claims_table.py);
#   5. datapaths at equal PE count: one BERT-base layer on the FuseMax-like preset with the softmax unit
#      (flash, and unfused spilling its scores), the softmax inside the array (fused) and no softmax unit
#      (primal), and where primal still wins against the fused design (scripts/fused_summary.py);
#   6. decode: one decode step of the GPT model (6 layers) at each context 128 ... 128K, batch 1, 4 and 16,
#      vanilla (flash, reading a KV cache) against primal_causal and lowrank_linear (a fixed-size state), on
#      edge and cloud, the prefill not simulated (--decode-only); per-token latency, bytes and throughput
#      plots, and from which context each low-rank variant decodes faster and what it saves per sequence
#      (scripts/decode_summary.py).
# Everything lands in OUT_DIR (default out/main), named at the end. Rerunning resumes the sweeps.
# Usage: scripts/run.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
OUT_DIR=${1:-out/main}
JOBS=$(nproc 2>/dev/null || echo 2)
PY=/usr/bin/python3  # Debian's, with matplotlib
mkdir -p "$OUT_DIR/plots"

echo "== 1. scaling sweep: configs/sweeps/default.json =="
build/attnsim sweep configs/sweeps/default.json --out "$OUT_DIR/scaling" -j "$JOBS"
echo "== 2. design-space sweep: configs/sweeps/design.json =="
build/attnsim sweep configs/sweeps/design.json --out "$OUT_DIR/design" -j "$JOBS"
echo "== 3. traced runs: LRA text on edge, N = 4096 =="
for variant in flash primal; do
  build/attnsim run --hw edge --model lra-text --seq-len 4096 --variant "$variant" \
    --trace "$OUT_DIR/trace-$variant" --out "$OUT_DIR/trace-$variant" >/dev/null
  echo "  $variant: $OUT_DIR/trace-$variant/{timeline.csv,trace.json,report.json}"
done

echo "== 4. plots and summary =="
P="$OUT_DIR/plots"
mkdir -p "$OUT_DIR/area"
area_args=()
for hw in edge cloud; do  # the chip's area as it is and without its softmax unit
  build/attnsim area --hw "$hw" --json >"$OUT_DIR/area/$hw.json"
  build/attnsim area --hw "$hw" --set /softmax=null --json >"$OUT_DIR/area/$hw-no-softmax.json"
  area_args+=(--area "$hw" "$OUT_DIR/area/$hw.json" "$OUT_DIR/area/$hw-no-softmax.json")
done
$PY scripts/plot_scaling.py "$OUT_DIR/scaling/results.csv" --attention-sram -o "$P/scaling.png" >/dev/null
$PY scripts/plot_stalls.py "$OUT_DIR/scaling/results.csv" --seq-len 1024 16384 -o "$P/stalls.png"
$PY scripts/plot_pareto.py "$OUT_DIR/design/results.csv" --x sram -o "$P/pareto_sram.png"
$PY scripts/plot_pareto.py "$OUT_DIR/design/results.csv" --x pes -o "$P/pareto_pes.png"
$PY scripts/plot_energy.py breakdown "$OUT_DIR/scaling/results.csv" --seq-len 4096 65536 -o "$P/energy_breakdown.png"
$PY scripts/plot_energy.py scaling "$OUT_DIR/scaling/results.csv" -o "$P/energy_scaling.png" >/dev/null
$PY scripts/plot_energy.py pareto "$OUT_DIR/design/results.csv" --x energy -o "$P/pareto_energy.png"
$PY scripts/plot_energy.py pareto "$OUT_DIR/design/results.csv" --x area -o "$P/pareto_area.png"
for variant in flash primal; do
  $PY scripts/plot_timeline.py "$OUT_DIR/trace-$variant/timeline.csv" -o "$P/timeline_$variant.png"
done
summary="$OUT_DIR/summary.md"
$PY scripts/sweep_summary.py "$OUT_DIR/scaling/results.csv" -o "$summary" --baseline unfused \
  --title "What attention costs: vanilla against primal and low-rank (LRA text, edge and cloud)"
$PY scripts/energy_summary.py "$OUT_DIR/scaling/results.csv" "${area_args[@]}" >>"$summary"
{
  echo "## Figures"
  echo
  for f in scaling stalls pareto_sram pareto_pes energy_breakdown energy_scaling pareto_energy pareto_area \
    timeline_flash timeline_primal; do
    echo "- [$f](plots/$f.png)"
  done
  echo
  echo "Design-space sweep: design/results.csv. Perfetto traces (open in https://ui.perfetto.dev):"
  echo "trace-flash/trace.json, trace-primal/trace.json."
  echo
} >>"$summary"
$PY scripts/claims_table.py "$OUT_DIR/scaling/results.csv" "${area_args[@]}" >>"$summary"
echo "== 5. datapaths at equal PE count: BERT-base layer on fusemax-cloud =="
mkdir -p "$OUT_DIR/datapaths"
build/attnsim compare --hw fusemax-cloud --model models/bert-base-layer.json --batch 4 --seq-lens 1024,4096,16384 \
  --datapaths softmax_unit:flash,softmax_unit:unfused:spill=1,in_array:fused,no_softmax:primal \
  --out "$OUT_DIR/datapaths" -j "$JOBS" >"$OUT_DIR/datapaths/table.txt"
$PY scripts/fused_summary.py "$OUT_DIR/datapaths/compare.csv" --fusemax --batch 4 \
  --title "Datapaths at equal PE count: BERT-base layer, batch 4, fusemax-cloud (256x256 PEs)" >>"$summary"
echo "== 6. decode: KV cache against fixed-size state (GPT, edge and cloud) =="
# One run per point, each one decode step at its context (--prefill C --generate 2), the prefill not
# simulated; a point whose report.json exists is not run again. Largest first, for the parallel jobs.
decode_point() {  # HW VARIANT BATCH CONTEXT
  local dir="$DECODE_DIR/runs/$1-$2-b$3-c$4"
  [ -f "$dir/report.json" ] && return 0
  rm -rf "$dir.part"
  build/attnsim run --hw "$1" --model gpt-wikitext103 --variant "$2" --batch "$3" --prefill "$4" --generate 2 \
    --decode-only --out "$dir.part" >/dev/null 2>"$dir.part.log" || { cat "$dir.part.log" >&2; return 1; }
  rm -f "$dir.part.log"
  mv "$dir.part" "$dir"
}
export -f decode_point
export DECODE_DIR="$OUT_DIR/decode"
mkdir -p "$DECODE_DIR/runs"
for ctx in 131072 65536 32768 16384 8192 4096 2048 1024 512 256 128; do
  for batch in 16 4 1; do for hw in edge cloud; do for variant in flash primal_causal lowrank_linear; do
    echo "$hw $variant $batch $ctx"
  done; done; done
done | xargs -P "$JOBS" -L 1 bash -c 'decode_point "$@"' _
for fig in latency bytes; do
  $PY scripts/plot_decode.py "$fig" "$DECODE_DIR/runs" -o "$P/decode_$fig.png"
done
$PY scripts/plot_decode.py throughput "$DECODE_DIR/runs" --context 128 4096 131072 -o "$P/decode_throughput.png"
$PY scripts/decode_summary.py "$DECODE_DIR/runs" --csv "$DECODE_DIR/results.csv" \
  --title "Decode: KV cache against fixed-size state (GPT-WikiText-103 model, 6 layers, d_model 512; edge and cloud)" \
  >>"$summary"
{
  echo "Figures: [decode_latency](plots/decode_latency.png), [decode_bytes](plots/decode_bytes.png),"
  echo "[decode_throughput](plots/decode_throughput.png); every step: decode/results.csv, decode/runs/*/report.json."
  echo "The GPT model keeps this section short (about a minute of CPU time). Where the cache starts to cost more than"
  echo "the weights depends on the model: a step streams every weight once for the batch, and reads each sequence's K and"
  echo "V; GPT has 6.3 MB of weights per layer against 2 kB of K and V per token and layer (equal at 3K tokens of"
  echo "context for one sequence, 3K / batch for a batch), Llama-2-7B 405 MB against 16 kB (24K tokens; --model llama2-7b)."
  echo
} >>"$summary"
ls "$P"/*.png | sed 's/^/  /'
echo "results in $OUT_DIR: summary.md, plots/, scaling/results.csv, design/results.csv, trace-*/, area/, datapaths/,"
echo "  decode/results.csv"
