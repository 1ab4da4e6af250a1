#!/usr/bin/env python3
"""Checks that more of a resource never costs cycles, in a sweep's results.csv.

For each resource axis given (an axis.NAME column whose values grow with the resource, e.g. SRAM
bytes per bank, array rows), the points are grouped by every other axis; within a group, ordered by
the resource, cycles must never increase. Prints each violation (the group, both points, both
cycle counts) and a count; exits 1 when there is any, 2 on bad input.

Usage: check_monotone.py RESULTS_CSV --resource axis.bank_bytes [--resource axis.rows+axis.cols ...]
       [--tolerance FRACTION]
A resource of zipped axes that move together is written A+B (ordered by A).
"""
import argparse
import csv
import sys


def fail(msg):
    print("check_monotone: " + msg, file=sys.stderr)
    sys.exit(2)


def number(v):
    try:
        return float(v)
    except ValueError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="a sweep's results.csv")
    ap.add_argument("--resource", action="append", required=True,
                    help="an axis column whose larger values mean more of a resource (repeatable)")
    ap.add_argument("--tolerance", type=float, default=0.0,
                    help="allowed relative increase before a pair counts as a violation (default 0)")
    a = ap.parse_args()
    try:
        with open(a.results, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        fail("%s: %s" % (a.results, e.strerror))
    if not rows:
        fail("%s: no rows" % a.results)
    resources = [r.split("+") for r in a.resource]
    for col in [c for r in resources for c in r] + ["cycles", "status"]:
        if col not in rows[0]:
            fail("%s: no column %s (columns: %s)" % (a.results, col, ", ".join(rows[0].keys())))
    axes = [k for k in rows[0] if k.startswith("axis.")]
    ok_rows = [r for r in rows if r["status"] == "ok"]
    violations = 0
    pairs = 0
    all_res = [c for r in resources for c in r]
    for cols in resources:
        res = cols[0]
        others = [k for k in axes if k not in all_res] + [c for r in resources if r is not cols for c in r]
        groups = {}
        for r in ok_rows:
            key = tuple((k, r[k]) for k in others)
            groups.setdefault(key, []).append(r)
        for key, g in sorted(groups.items()):
            g = sorted(g, key=lambda r: number(r[res]) if number(r[res]) is not None else r[res])
            for lo, hi in zip(g, g[1:]):
                pairs += 1
                c_lo, c_hi = float(lo["cycles"]), float(hi["cycles"])
                if c_hi > c_lo * (1 + a.tolerance):
                    violations += 1
                    where = ", ".join("%s=%s" % (k[5:], v) for k, v in key)
                    print("more %s costs cycles: %s: %s=%s -> %d cycles, %s=%s -> %d cycles (+%.2f%%)" %
                          (res[5:], where, res[5:], lo[res], c_lo, res[5:], hi[res], c_hi,
                           100 * (c_hi / c_lo - 1)))
    print("%d violations in %d pairs of neighbouring points (%d points ok of %d)" %
          (violations, pairs, len(ok_rows), len(rows)))
    sys.exit(1 if violations else 0)


if __name__ == "__main__":
    main()
