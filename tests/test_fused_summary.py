#!/usr/bin/env python3
"""scripts/fused_summary.py on a compare folder written here (compare.csv and compare.json) whose figures
are chosen so that every number of its output is known in advance:

  N = 4096, batch 64: in_array/fused's attention core (qk start 100 to pv end 100 + 27,918,336) takes
    27,918,336 cycles, FuseMax's published 0.02970035744680851 s x 940 MHz = 27,918,336: ratio 1.000.
    softmax_unit/flash's core takes 100,663,296 cycles, FLAT's published 0.2141772255319149 s = 201,326,592
    cycles: ratio 0.500; so fused over flash is 100,663,296 / 27,918,336 = 3.61x against the published
    201,326,592 / 27,918,336 = 7.21x: 0.500. unfused:spill=1 is absent: no row.
  Energy: fused 2e6 pJ = 2.0 uJ, array half, SRAM 0.3, DRAM 0.2 of it: "array 50 %, sram 30 %, dram 20 %";
    area 639.1 mm^2. Flash without energy columns: "-".
  primal takes fewer cycles than fused: "still wins ... 1.25x fewer cycles".
  With --batch 4 the published figures are scaled by 4 / 64: FuseMax's 27,918,336 -> 1,744,896.
Run by ctest; by hand: /usr/bin/python3 tests/test_fused_summary.py
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(HERE), "scripts", "fused_summary.py")
COLS = ["seq_len", "variant", "status", "cycles", "utilization", "dram_bytes", "energy_total_pj", "area_mm2",
        "energy_share_array", "energy_share_sram", "energy_share_vector", "energy_share_softmax",
        "energy_share_dma", "energy_share_dram", "energy_share_leakage"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def report(core):
    return {"ops": {"qk": {"start_cycle": 100, "end_cycle": 100 + core // 2},
                    "pv": {"start_cycle": 100, "end_cycle": 100 + core}}}


d = tempfile.mkdtemp()
try:
    rows = [
        {"seq_len": 4096, "variant": "softmax_unit/flash", "status": "ok", "cycles": 2e8, "utilization": 0.2,
         "dram_bytes": 10},
        {"seq_len": 4096, "variant": "in_array/fused", "status": "ok", "cycles": 1e8, "utilization": 0.9,
         "dram_bytes": 10, "energy_total_pj": 2e6, "area_mm2": 639.1, "energy_share_array": 0.5,
         "energy_share_sram": 0.3, "energy_share_vector": 0, "energy_share_softmax": 0, "energy_share_dma": 0,
         "energy_share_dram": 0.2, "energy_share_leakage": 0},
        {"seq_len": 4096, "variant": "no_softmax/primal", "status": "ok", "cycles": 8e7, "utilization": 0.5,
         "dram_bytes": 10},
    ]
    with open(os.path.join(d, "compare.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in COLS})
    flash = report(100663296)
    flash["ops"]["softmax"] = {"softmax_busy_cycles": 25165824}  # a quarter of the core
    points = [{"seq_len": 4096, "variant": "softmax_unit/flash", "status": "ok", "report": flash},
              {"seq_len": 4096, "variant": "in_array/fused", "status": "ok", "report": report(27918336)},
              {"seq_len": 4096, "variant": "no_softmax/primal", "status": "ok", "report": {"ops": {}}}]
    json.dump({"points": points}, open(os.path.join(d, "compare.json"), "w"))
    csv_path = os.path.join(d, "compare.csv")
    out = subprocess.run([sys.executable, SCRIPT, csv_path, "--fusemax"], capture_output=True, text=True, check=True).stdout
    check("| 4096 | in_array/fused vs FuseMax | 27918336 | 27918336 | 1.000 |" in out, "fused against FuseMax")
    check("| 4096 | softmax_unit/flash vs FLAT | 100663296 | 201326592 | 0.500 |" in out, "flash against FLAT")
    check("vs unfused" not in out, "an absent variant has no row")
    check("| 4096 | FLAT | 3.61x | 7.21x | 0.500 |" in out, "the speedups")
    check("| 2.0 | array 50 %, sram 30 %, dram 20 % | 639.1 |" in out, "energy and area cells")
    check("| 4096 | softmax_unit/flash | 200000000 | 0.200 | 10 | - | - | - |" in out, "no energy: dashes")
    check("1.25x fewer cycles" in out, "primal still wins")
    # batch 64 x 12 heads x 4096^2 = 12,884,901,888 scores: over FLAT's 201,326,592 cycles 64.0 a cycle, over
    # flash's 100,663,296 128.0; its softmax unit 25,165,824 / 100,663,296 = 25 % busy.
    check("N = 4096: FLAT 64.0, softmax_unit/flash 128.0 (its softmax unit busy 25 % of the core)" in out,
          "scores per cycle of the baselines")
    out4 = subprocess.run([sys.executable, SCRIPT, csv_path, "--fusemax", "--batch", "4"], capture_output=True,
                          text=True, check=True).stdout
    check("| 4096 | in_array/fused vs FuseMax | 27918336 | 1744896 | 16.000 |" in out4, "batch scaling")
    check("scaled by 4/64" in out4, "the scaling is said")
    if failures:
        print(out)
finally:
    shutil.rmtree(d)
for f in failures:
    print("FAILED:", f)
sys.exit(1 if failures else 0)
