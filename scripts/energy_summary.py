#!/usr/bin/env python3
"""Markdown section on energy and area from an attnsim sweep: per hardware, the energy of each run
(variant against N) with attention's share of it, the components' shares at the largest N; then
the chip's area, the softmax unit's part of it, and what dropping the unit saves primal attention.
Everything is computed from the files given; the main job (scripts/run.sh) appends it to summary.md.

Attention is the work of the op classes qk, softmax, pv, global and lowrank (S = Q K^T, the
softmax, P V, and low-rank attention's own work), not the Q/K/V and output projections, the FFN or
the norms. Its energy is the sum of those classes' `op_<class>_energy_pj` columns: each class's
own counted actions (MACs, SRAM and accumulator accesses, vector and softmax lane operations, DMA
bytes, and the DRAM dynamic energy apportioned by its DMA bytes; report/energy.h op_energy).
Attention's share is that over energy_total_pj. DRAM background and leakage charge the run's time,
not an op: they are no op's (the section prints their share), so the shares of all op classes sum
to 1 minus it.

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


def attention_share(row, path):
    """(attention's share of the run's energy, the time-charged share) from the row's per-op-class
    columns, or None when the row has none: attention's op classes' energy over energy_total_pj, and
    the part of the total no op is charged for (total - the sum of every op class: DRAM background
    and leakage). See the docstring."""
    ops = {c[len("op_"):-len("_energy_pj")]: row[c] for c in row
           if c.startswith("op_") and c.endswith("_energy_pj")}
    ops = {k: v for k, v in ops.items() if v not in ("", None)}
    if not ops:
        return None
    total = num(row, "energy_total_pj", path)
    if total <= 0:
        return None
    values = {k: num(row, "op_%s_energy_pj" % k, path) for k in ops}
    attention = sum(v for k, v in values.items() if k in ATTENTION_CLASSES)
    return attention / total, (total - sum(values.values())) / total


def energy_tables(path, ok, components, vcol, baseline):
    """The per-hardware energy tables, with attention's share where the rows carry op columns."""
    data = defaultdict(lambda: defaultdict(dict))  # data[hw][variant][N] = row
    variants = []
    for r in ok:
        if r.get("energy_total_pj", "") == "":
            continue
        if r[vcol] not in variants:
            variants.append(r[vcol])
        data[r["hardware"]][r[vcol]][int(r["seq_len"])] = r
    out = []
    missing = 0
    for hw in sorted(data, key=res.short_hardware):
        by_v = data[hw]
        vs = [v for v in variants if v in by_v]
        base = baseline if baseline in by_v else None
        others = [v for v in vs if v != base] if base else []
        ns = sorted({n for v in vs for n in by_v[v]})
        shares, timed = {}, []
        for v in vs:
            for n, r in by_v[v].items():
                s = attention_share(r, path)
                if s is None:
                    missing += 1
                    continue
                shares[(v, n)] = s[0]
                timed.append(s[1])
        out += ["### %s" % res.short_hardware(hw), ""]
        out += ["Energy per run%s%s:" % (
            ", attention's share of it in brackets" if shares else "",
            (", and its ratio to %s's" % base) if base else ""), ""]
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
                    text += " (%s)" % pct(shares[(v, n)])
                cells.append(text)
            for v in others:
                a, b = by_v[v].get(n), by_v[base].get(n)
                cells.append("%.3g" % (num(a, "energy_total_pj", path) / num(b, "energy_total_pj", path))
                             if a and b and num(b, "energy_total_pj", path) > 0 else "-")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        if timed:
            out += ["Attention's share is its op classes' energy (`op_<class>_energy_pj`) over the run's. "
                    "The energy charged by time, not by op (DRAM background and leakage), is %s .. %s of a "
                    "run here and counted as no op's, attention's included." % (pct(min(timed)), pct(max(timed))),
                    ""]
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
    return out, data, missing


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
    tables, data, missing = energy_tables(a.results, ok, components, vcol, a.baseline)
    if missing:
        text += ["Attention's share is left out for %d points whose row has no `op_<class>_energy_pj` "
                 "values." % missing, ""]
    text += tables
    if a.area:
        text += area_section([(hw, (w, wo)) for hw, w, wo in a.area], data, components, a.results)
    res.write_text(a.out, "\n".join(text) + "\n")


if __name__ == "__main__":
    main()
