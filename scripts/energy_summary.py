#!/usr/bin/env python3
"""Markdown section on energy and area from an attnsim sweep: per hardware, the energy of each run
(variant against N) with attention's share of it, the components' shares at the largest N; then
the chip's area, the softmax unit's part of it, and what dropping the unit saves primal attention.
Everything is computed from the files given; the main job (scripts/run.sh) appends it to summary.md.

Attention is the work of the op classes qk, softmax, pv, global and lowrank (S = Q K^T, the
softmax, P V, and low-rank attention's own work), not the Q/K/V and output projections, the FFN or
the norms. Its energy is counted exactly where the report counts an action per op class (the
points' report.json, "ops"): array energy by MACs, DMA and DRAM energy by bytes loaded and stored,
the softmax unit's energy all attention's (only attention issues SOFTMAX). The other components
(SRAM, vector unit, leakage, and any the table adds) are not split by op class in the report, so
attention's share is given as a range: the low end counts none of them as attention's, the high
end all of them.

Area: `attnsim area --json` of each preset as it is and with its softmax unit removed
(--set /softmax=null), given with --area. The softmax unit is the only unit attention has to
itself; the array, SRAM, vector unit, DMA and DRAM PHY serve every op. Dropping the unit saves
its area and its leakage: leakage per on-chip mm^2 (energy_leakage_pj / time / (area_mm2 - the
DRAM PHY's area)) times the area saved, over primal's run time, as a share of primal's energy.
Primal's cycles stay the same where its softmax unit busy fraction is 0 (it issues no SOFTMAX).

Usage:
  energy_summary.py RESULTS.csv [--area HW WITH.json WITHOUT.json]... [-o OUT.md]
"""
import argparse
import json
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnsim_results as res  # noqa: E402

ATTENTION_CLASSES = ("qk", "softmax", "pv", "global", "lowrank")
PRIMAL = "primal"
PROG = "energy_summary"


def fail(msg):
    res.fail(PROG, msg)


def num(row, col, path):
    try:
        return float(row[col])
    except (KeyError, ValueError):
        fail("%s: point %s: column %s is missing or not a number" % (path, row.get("index", "?"), col))


def pct(x):
    """0.56 -> "56%", 0.0123 -> "1.2%", 0 -> "0%"."""
    return "%.0f%%" % (100 * x) if abs(x) >= 0.1 or x == 0 else "%.2g%%" % (100 * x)


def op_totals(report):
    """{op class: (MACs, bytes loaded + stored)} over the run: the report's "ops" section, or the
    sum of its layers' ops."""
    if isinstance(report.get("ops"), dict) and report["ops"]:
        ops = [report["ops"]]
    else:
        ops = [layer.get("ops", {}) for layer in report.get("layers", [])]
    out = defaultdict(lambda: [0.0, 0.0])
    for group in ops:
        for name, o in group.items():
            out[name][0] += float(o.get("macs", 0))
            out[name][1] += float(o.get("dram_read_bytes", 0)) + float(o.get("dram_written_bytes", 0))
    return out


def attention_share(row, components, report):
    """(low, high): attention's share of the run's energy counted exactly (low), and with every
    component the report does not split by op class added (high). See the docstring."""
    ops = op_totals(report)
    macs = sum(v[0] for v in ops.values())
    moved = sum(v[1] for v in ops.values())
    attn_macs = sum(ops[c][0] for c in ATTENTION_CLASSES if c in ops)
    attn_moved = sum(ops[c][1] for c in ATTENTION_CLASSES if c in ops)
    counted = unsplit = 0.0
    for name, col in components:
        e = float(row[col])
        if name == "array" and macs > 0:
            counted += e * attn_macs / macs
        elif name in ("dma", "dram") and moved > 0:
            counted += e * attn_moved / moved
        elif name == "dram" or name == "dma" or name == "array":
            pass  # no MACs or bytes at all: no energy either
        elif name == "softmax":
            counted += e
        else:
            unsplit += e
    total = float(row["energy_total_pj"])
    return (counted / total, (counted + unsplit) / total) if total > 0 else (0.0, 0.0)



def energy_tables(path, ok, components, vcol, baseline):
    """The per-hardware energy tables, with attention's share where the points' reports are found."""
    points_dir = os.path.join(os.path.dirname(os.path.abspath(path)), "points")
    data = defaultdict(lambda: defaultdict(dict))  # data[hw][variant][N] = row
    variants = []
    for r in ok:
        if r.get("energy_total_pj", "") == "":
            continue
        if r[vcol] not in variants:
            variants.append(r[vcol])
        data[r["hardware"]][r[vcol]][int(r["seq_len"])] = r
    out = []
    missing_reports = 0
    for hw in sorted(data, key=res.short_hardware):
        by_v = data[hw]
        vs = [v for v in variants if v in by_v]
        base = baseline if baseline in by_v else None
        others = [v for v in vs if v != base] if base else []
        ns = sorted({n for v in vs for n in by_v[v]})
        shares, unsplit = {}, []
        for v in vs:
            for n, r in by_v[v].items():
                rp = os.path.join(points_dir, r.get("point", ""), "report.json")
                try:
                    with open(rp) as f:
                        report = json.load(f)
                except (OSError, ValueError):
                    missing_reports += 1
                    continue
                lo, hi = attention_share(r, components, report)
                shares[(v, n)] = (lo, hi)
                unsplit.append(hi - lo)
        out += ["### %s" % res.short_hardware(hw), ""]
        out += ["Energy per run%s%s:" % (
            ", attention's share of it in brackets (counted exactly .. with the unsplit components)"
            if shares else "", (", and its ratio to %s's" % base) if base else ""), ""]
        head = ["N"] + vs + ["%s / %s" % (v, base) for v in others]
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for n in ns:
            cells = [str(n)]
            for v in vs:
                r = by_v[v].get(n)
                if r is None:
                    cells.append("-")
                    continue
                text = res.fmt_energy_pj(num(r, "energy_total_pj", path))
                if (v, n) in shares:
                    lo, hi = shares[(v, n)]
                    text += " (%s .. %s)" % (pct(lo), pct(hi))
                cells.append(text)
            for v in others:
                a, b = by_v[v].get(n), by_v[base].get(n)
                cells.append("%.3g" % (num(a, "energy_total_pj", path) / num(b, "energy_total_pj", path))
                             if a and b and num(b, "energy_total_pj", path) > 0 else "-")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        if unsplit:
            out += ["The components not split by op class (%s) are %s .. %s of a run's energy here: the "
                    "width of the ranges." % (", ".join(n for n, _ in components
                                                          if n not in ("array", "dma", "dram", "softmax")),
                                              pct(min(unsplit)), pct(max(unsplit))), ""]
        top = ns[-1]
        at_top = [v for v in vs if top in by_v[v]]
        if at_top:
            out += ["Components at N = %d, as shares of each run's energy:" % top, ""]
            head = ["variant"] + [n for n, _ in components] + ["total"]
            out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for v in at_top:
                r = by_v[v][top]
                t = num(r, "energy_total_pj", path)
                out.append("| " + " | ".join([v] + [pct(num(r, c, path) / t) if t > 0 else "-"
                                                    for _, c in components]
                                             + [res.fmt_energy_pj(t)]) + " |")
            out.append("")
    return out, data, missing_reports


def area_section(areas, data, components, path):
    leak_col = dict(components).get("leakage")
    out = ["### Area, and the softmax unit", "",
           "From `attnsim area --json` on each preset as it is and with `--set /softmax=null`. The softmax "
           "unit is the only unit attention has to itself, so it is attention's dedicated share of the "
           "chip; the array, SRAM, vector unit, DMA and DRAM PHY serve every op. Leakage saved: the run's "
           "leakage per on-chip mm^2 (leakage energy / time / (area - DRAM PHY)) times the area saved.", ""]
    head = ["hardware", "chip area", "softmax unit (attention's own)", "without the softmax unit",
            "area saved", "leakage saved", "primal: energy saved"]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for hw, (with_path, without_path) in areas:
        a, b = res.read_area("energy_summary", with_path), res.read_area("energy_summary", without_path)
        saved = a["total"] - b["total"]
        cells = [hw, "%.4g mm^2" % a["total"],
                 "%.3g mm^2 (%s)" % (a["softmax"], pct(a["softmax"] / a["total"]) if a["total"] > 0 else "-"),
                 "%.4g mm^2" % b["total"], "%.3g mm^2 (%s)" % (saved, pct(saved / a["total"]) if a["total"] else "-")]
        rows = next((d for name, d in data.items() if res.short_hardware(name) == hw), {})
        primal = rows.get(PRIMAL, {})
        if leak_col and primal:
            per_n = []
            rate = None
            for n in sorted(primal):
                r = primal[n]
                seconds = num(r, "time_us", path) * 1e-6
                on_chip = num(r, "area_mm2", path) - a["dram_phy"]
                if seconds <= 0 or on_chip <= 0:
                    continue
                rate = num(r, leak_col, path) / seconds / on_chip  # pJ/s per mm^2
                per_n.append((n, rate * saved * seconds / num(r, "energy_total_pj", path)))
                busy = r.get("softmax_unit_busy_fraction", "")
                if busy not in ("", "absent", "0", "0.0") and float(busy) > 0:
                    notes.append("%s: primal used the softmax unit at N = %d (busy %s): without it, "
                                 "its cycles would change" % (hw, n, busy))
            if rate is not None:
                cells.append("%.3g mW" % (rate * saved * 1e-9))
                cells.append("%s at N = %d" % (pct(per_n[0][1]), per_n[0][0]) + (
                    " .. %s at N = %d" % (pct(per_n[-1][1]), per_n[-1][0]) if len(per_n) > 1 else ""))
            else:
                cells += ["-", "-"]
        else:
            cells += ["-", "- (no %s)" % ("leakage column" if not leak_col else "primal rows")]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out += ["- " + n for n in notes] + ([""] if notes else [])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="How each figure is computed: see the script's docstring.")
    ap.add_argument("results", help="results.csv written by attnsim sweep (its points/ beside it)")
    ap.add_argument("--area", nargs=3, action="append", default=[], metavar=("HW", "WITH.json", "WITHOUT.json"),
                    help="attnsim area --json of hardware HW, and of HW with --set /softmax=null (repeatable)")
    ap.add_argument("--baseline", default="unfused", help="variant the ratios are taken to (default: unfused)")
    ap.add_argument("-o", "--out", help="output markdown file (default: standard output)")
    a = ap.parse_args()

    rows = res.read_rows(PROG, a.results)
    need = ("status", "hardware", "seq_len", "energy_total_pj")
    missing = [c for c in need if c not in rows[0]]
    if missing:
        fail("%s: missing column%s %s" % (a.results, "s" if len(missing) > 1 else "", ", ".join(missing)))
    ok, _ = res.split_by_status(rows)
    components = res.energy_components(list(rows[0].keys()), ok)
    if not components:
        fail("%s: no energy_<component>_pj columns (the hardware had no energy table)" % a.results)
    vcol = res.variant_column(rows[0])
    table = sorted({r.get("energy_table", "") for r in ok} - {""})
    text = ["## Energy and area", "",
            "Energy per run from the energy table%s %s: every picojoule a counted action times its "
            "per-action energy (README, \"Energy and area\", says what is counted and what is "
            "estimated). Regenerated from `%s` and its points' report.json by scripts/energy_summary.py "
            "(its docstring states each rule). Attention is S = Q K^T, the softmax, P V and low-rank "
            "attention's own work (op classes %s), not the projections, FFN and norms." % (
                "s" if len(table) > 1 else "", ", ".join("`%s`" % t for t in table) or "(unnamed)",
                a.results, ", ".join(ATTENTION_CLASSES)), ""]
    tables, data, missing_reports = energy_tables(a.results, ok, components, vcol, a.baseline)
    if missing_reports:
        text += ["Attention's share is left out for %d points whose report.json was not found beside the "
                 "table (points/<point>/report.json)." % missing_reports, ""]
    text += tables
    if a.area:
        text += area_section([(hw, (w, wo)) for hw, w, wo in a.area], data, components, a.results)
    res.write_text(a.out, "\n".join(text) + "\n")


if __name__ == "__main__":
    main()
