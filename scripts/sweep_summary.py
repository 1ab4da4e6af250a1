#!/usr/bin/env python3
"""Markdown summary of an attnsim sweep's results.csv: per hardware, a table of cycles and DRAM
bytes for every attention variant against the sequence length N, with ratios to a baseline
variant, and the first N of the sweep from which each variant is faster than the baseline.

Example:
  scripts/sweep_summary.py out/main/scaling/results.csv -o out/main/summary.md --baseline flash
"""
import argparse
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnsim_results as res  # noqa: E402


def fail(msg):
    res.fail("sweep_summary", msg)


def human(v, unit=""):
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return "%.3g %s%s" % (v / div, suffix, unit)
    return "%.3g %s" % (v, unit) if unit else "%.3g" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="results.csv written by attnsim sweep")
    ap.add_argument("-o", "--out", help="output markdown file (default: standard output)")
    ap.add_argument("--baseline", default="unfused",
                    help="variant the others are compared with (default: unfused; the first variant if absent)")
    ap.add_argument("--title", default="attnsim sweep", help="heading of the summary")
    args = ap.parse_args()

    rows = res.read_rows("sweep_summary", args.results)
    for col in ("status", "hardware", "seq_len", "cycles", "dram_bytes_read", "dram_bytes_written"):
        if col not in rows[0] and not (col != "status" and all(r.get("status") != "ok" for r in rows)):
            fail("%s: no column %s" % (args.results, col))
    vcol = res.variant_column(rows[0])
    ok, failed = res.split_by_status(rows)

    # data[hw][variant][N] = (cycles, dram bytes)
    data = defaultdict(lambda: defaultdict(dict))
    variants = []
    for r in ok:
        v = r[vcol]
        if v not in variants:
            variants.append(v)
        data[r["hardware"]][v][int(r["seq_len"])] = (
            int(r["cycles"]), int(r["dram_bytes_read"]) + int(r["dram_bytes_written"]))
    base = args.baseline if args.baseline in variants else (variants[0] if variants else "")

    out = ["# %s" % args.title, "",
           "%d points: %d ok, %d failed. Source: `%s`. Ratios are the variant's figure over %s's at the same "
           "N and hardware (below 1: the variant is cheaper)." % (len(rows), len(ok), len(failed), args.results, base),
           ""]
    for hw in sorted(data):
        by_v = data[hw]
        ns = sorted({n for v in by_v for n in by_v[v]})
        others = [v for v in variants if v != base and v in by_v]
        out += ["## %s" % res.short_hardware(hw), ""]
        for title, idx, unit in (("Cycles", 0, ""), ("DRAM traffic (bytes read + written)", 1, "B")):
            out += ["%s:" % title, ""]
            head = ["N"] + [v for v in variants if v in by_v] + ["%s / %s" % (v, base) for v in others]
            out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for n in ns:
                cells = [str(n)]
                for v in variants:
                    if v in by_v:
                        cells.append(human(by_v[v][n][idx], unit) if n in by_v[v] else "-")
                for v in others:
                    b, x = by_v.get(base, {}).get(n), by_v[v].get(n)
                    cells.append("%.3g" % (x[idx] / b[idx]) if b and x and b[idx] else "-")
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
        if base in by_v:
            notes = []
            for v in others:
                faster = [n for n in ns if n in by_v[v] and n in by_v[base] and by_v[v][n][0] < by_v[base][n][0]]
                if not faster:
                    notes.append("%s is not faster than %s at any N of the sweep" % (v, base))
                elif faster == [n for n in ns if n in by_v[v] and n in by_v[base]]:
                    notes.append("%s is faster than %s at every N of the sweep (from %d)" % (v, base, faster[0]))
                else:
                    notes.append("%s is faster than %s at N = %s" % (v, base, ", ".join(map(str, faster))))
            out += ["- " + n for n in notes] + [""]
    if failed:
        out += ["## Failed points", ""]
        for r in failed:
            axes = ", ".join("%s=%s" % (k[5:], r[k]) for k in r if k.startswith("axis."))
            out.append("- point %s (%s): %s" % (r["index"], axes, r["error"]))
        out.append("")
    text = "\n".join(out)
    res.write_text(args.out, text)


if __name__ == "__main__":
    main()
