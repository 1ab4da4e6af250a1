#!/usr/bin/env python3
"""scripts/energy_summary.py on a sweep folder written here (results.csv) whose energies and per-op-class
energies are chosen so that every figure of the section is known in advance:

  unfused (N = 1024; N = 4096 has every energy x 16): array 1000, SRAM 400, vector 100, softmax 50,
    DMA 20, DRAM 300, leakage 130 pJ = 2000 pJ. Its op classes (op_<class>_energy_pj): qkv_proj 300,
    qk 450, softmax 250, pv 400, ffn 280 = 1680 pJ; the other 320 pJ (DRAM background and leakage)
    are no op's, 16%. Attention (qk, softmax, pv): 450 + 250 + 400 = 1100 pJ, 1100 / 2000 = 55%.
  primal (N = 1024; N = 4096 has every energy and the time x 4): array 500, SRAM 200, vector 100,
    softmax 0, DMA 10, DRAM 150, leakage 40 pJ = 1000 pJ. Op classes: qkv_proj 300, global 80,
    lowrank 50, ffn 400 = 830 pJ (170 pJ no op's, 17%); attention (global, lowrank) 130 pJ, 13%.
    primal / unfused = 0.5.
  area: 20 mm^2 with a 2 mm^2 softmax unit (10%) and an 8 mm^2 DRAM PHY; 18 mm^2 without the unit.
    Leakage per on-chip mm^2: 40 pJ / 1 us / 12 mm^2; the unit's 2 mm^2 leak 40 x 2 / 12 = 6.67 pJ
    a run, 0.67% of primal's 1000 pJ (the same at N = 4096: all x 4), 6.67 pJ / 1 us = 0.00667 mW.
  primal's softmax unit is busy 0.1 of the run at N = 4096: the section says so.
Also: a row whose op columns are empty leaves its share out and the section counts it; a table
without energy columns is refused with exit status 2.
Run by ctest; by hand: /usr/bin/python3 tests/test_energy_summary.py
"""
import csv
import json
import os
import sys
import tempfile

from script_checks import check, finish, run_script  # tests/, beside this file

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(HERE), "scripts", "energy_summary.py")
COLS = ["index", "point", "status", "axis.variant", "hardware", "seq_len", "time_us", "energy_table",
        "energy_total_pj", "energy_array_pj", "energy_sram_pj", "energy_vector_pj", "energy_softmax_pj",
        "energy_dma_pj", "energy_dram_pj", "energy_leakage_pj", "area_mm2", "softmax_unit_busy_fraction"] + [
        "op_%s_energy_pj" % c for c in ("other", "qkv_proj", "qk", "softmax", "pv", "out_proj", "ffn", "norm",
                                         "residual", "global", "lowrank")]
ENERGY = {"unfused": dict(array=1000, sram=400, vector=100, softmax=50, dma=20, dram=300, leakage=130),
          "primal": dict(array=500, sram=200, vector=100, softmax=0, dma=10, dram=150, leakage=40)}
OPS = {"unfused": {"qkv_proj": 300, "qk": 450, "softmax": 250, "pv": 400, "ffn": 280},
       "primal": {"qkv_proj": 300, "global": 80, "lowrank": 50, "ffn": 400}}


def run(*args):
    return run_script(SCRIPT, *args)


def write_sweep(root):
    rows = []
    for i, (v, n) in enumerate((v, n) for v in ("unfused", "primal") for n in (1024, 4096)):
        scale = (16 if v == "unfused" else 4) if n == 4096 else 1
        e = {k: x * scale for k, x in ENERGY[v].items()}
        point = "p%d" % i
        r = {"index": i, "point": point, "status": "ok", "axis.variant": v, "hardware": "preset:big",
             "seq_len": n, "time_us": 4 if (v == "primal" and n == 4096) else 1, "energy_table": "preset:45nm",
             "energy_total_pj": sum(e.values()), "area_mm2": 20,
             "softmax_unit_busy_fraction": 0.1 if (v == "primal" and n == 4096) else (0 if v == "primal" else 0.5)}
        r.update({"energy_%s_pj" % k: x for k, x in e.items()})
        # Classes the run has none of stay empty, as results.csv leaves them.
        r.update({"op_%s_energy_pj" % c: x * scale for c, x in OPS[v].items()})
        rows.append(r)
    with open(os.path.join(root, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    for name, area in (("with.json", dict(total=20, softmax=2, dram_phy=8)),
                       ("without.json", dict(total=18, softmax=0, dram_phy=8))):
        with open(os.path.join(root, name), "w") as f:
            json.dump(area, f)


def main():
    root = tempfile.mkdtemp(prefix="attnsim_energy_summary_")
    write_sweep(root)
    table = os.path.join(root, "results.csv")
    rc, out, err = run(table, "--area", "big", os.path.join(root, "with.json"), os.path.join(root, "without.json"))
    check(rc == 0, "exit 0 (%d: %s)" % (rc, err.strip()))
    lines = out.split("\n")
    check("| 1024 | 2 nJ (55%) | 1 nJ (13%) | 0.5 |" in lines,
          "N = 1024: unfused 2000 pJ, attention 55%; primal 1000 pJ, 13%; ratio 0.5")
    check("| 4096 | 32 nJ (55%) | 4 nJ (13%) | 0.125 |" in lines,
          "N = 4096: unfused 16 x 2000 pJ, primal 4 x 1000 pJ, the same shares; ratio 4000 / 32000 = 0.125")
    check("| unfused | 50% | 20% | 5% | 2.5% | 1% | 15% | 6.5% | 32 nJ |" in lines,
          "components of unfused at N = 4096: 1000 / 2000 = 50%, SRAM 20%, ..., leakage 130 / 2000 = 6.5%")
    check(any("(DRAM background and leakage), is 16% .. 17% of a run" in l for l in lines),
          "the energy no op is charged for: unfused 320 / 2000 = 16% .. primal 170 / 1000 = 17%")
    area = [l for l in lines if l.startswith("| big |")]
    check(area == ["| big | 20 mm^2 | 2 mm^2 (10%) | 18 mm^2 | 2 mm^2 (10%) | 0.00667 mW | "
                   "0.67% at N = 1024 .. 0.67% at N = 4096 |"],
          "area row: 20 mm^2, softmax 2 mm^2 (10%), 18 without, leakage 0.00667 mW, 0.67% of primal's energy "
          "(got " + str(area) + ")")
    check(any("primal used the softmax unit at N = 4096 (busy 0.1)" in l for l in lines),
          "primal busy on its softmax unit at N = 4096 is reported")

    # One row's op columns empty: its cell has no share, and the section counts it.
    with open(table) as f:
        rows = list(csv.DictReader(f))
    rows[1].update({c: "" for c in COLS if c.startswith("op_")})
    with open(table, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    rc, out, _ = run(table)
    lines = out.split("\n")
    check(rc == 0 and "| 4096 | 32 nJ | 4 nJ (13%) | 0.125 |" in lines
          and any("left out for 1 points" in l for l in lines),
          "unfused at N = 4096 without op columns: no share, and the section says 1 point")

    # No energy columns: refused.
    bare = os.path.join(root, "bare.csv")
    with open(bare, "w") as f:
        f.write("index,status,hardware,seq_len,energy_total_pj\n0,ok,preset:big,1024,\n")
    rc, _, err = run(bare)
    check(rc == 2 and bare in err and "energy_<component>_pj" in err,
          "a table without energy components: exit 2 naming the file (%d: %s)" % (rc, err.strip()))

    return finish(root)


if __name__ == "__main__":
    sys.exit(main())
