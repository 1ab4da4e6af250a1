#!/usr/bin/env python3
"""Markdown for summary.md from an `attnsim compare --datapaths` run on one preset (compare.csv): per sequence
length, each datapath variant's cycles, utilization and DRAM bytes, and where primal attention still wins
against attention fused in the array, and by how much (cycles and DRAM bytes, primal's over fused's).

Usage: fused_summary.py compare.csv [--fused in_array/fused] [--primal no_softmax/primal] [--title T]
"""
import argparse
import csv
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--fused", default="in_array/fused")
    ap.add_argument("--primal", default="no_softmax/primal")
    ap.add_argument("--title", default="Fused in-array attention against primal on the same silicon")
    a = ap.parse_args()
    rows = list(csv.DictReader(open(a.csv, newline="")))
    ok = [r for r in rows if r["status"] == "ok"]
    lens = sorted({int(r["seq_len"]) for r in ok})
    variants = []
    for r in rows:
        if r["variant"] not in variants:
            variants.append(r["variant"])
    at = {(int(r["seq_len"]), r["variant"]): r for r in ok}
    out = [f"## {a.title}", ""]
    out.append("| N | variant | cycles | utilization | DRAM bytes |")
    out.append("| ---: | --- | ---: | ---: | ---: |")
    for n in lens:
        for v in variants:
            r = at.get((n, v))
            if r:
                out.append(f"| {n} | {v} | {int(float(r['cycles']))} | {float(r['utilization']):.3f} | "
                           f"{int(float(r['dram_bytes']))} |")
    out.append("")
    wins, losses = [], []
    for n in lens:
        f, p = at.get((n, a.fused)), at.get((n, a.primal))
        if not f or not p:
            continue
        ratio = float(f["cycles"]) / float(p["cycles"])
        bytes_ratio = float(f["dram_bytes"]) / max(1.0, float(p["dram_bytes"]))
        (wins if ratio > 1 else losses).append((n, ratio, bytes_ratio))
    if not wins and not losses:
        out.append(f"No sequence length has both {a.fused} and {a.primal}.")
    else:
        if wins:
            out.append(f"Primal ({a.primal}) still wins against fused in-array attention ({a.fused}) at N = " +
                       ", ".join(f"{n} ({r:.2f}x fewer cycles, {b:.2f}x fewer DRAM bytes)" for n, r, b in wins) + ".")
        if losses:
            out.append(f"Fused in-array attention is as fast or faster at N = " +
                       ", ".join(f"{n} (primal takes {1 / r:.2f}x its cycles)" for n, r, _ in losses) + ".")
    out.append("")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
