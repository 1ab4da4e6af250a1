#!/usr/bin/env python3
"""The project's claims about vanilla and primal attention in hardware, tested against a sweep.

Reads the results.csv of an `attnsim sweep` over hardware, attention variant and sequence length N
(configs/sweeps/default.json: unfused, flash, primal, lowrank_linear on edge and cloud) and writes a
markdown table: each claim, the figure that tests it, the measured value per hardware, and a
verdict (holds, does not hold, holds only when ...), all computed from the rows; nothing is typed
by hand. The main job (scripts/run.sh) appends it to summary.md.

How each verdict is reached (slopes are least-squares slopes of ln(figure) against ln N over the
three largest N of the sweep; "vanilla" is unfused and flash, whichever the sweep has):
  quadratic work       MACs slope: vanilla >= 1.7 and primal <= 1.2 holds.
  quadratic traffic    DRAM bytes (read + written) slope, per vanilla variant: >= 1.7 is quadratic;
                       primal <= 1.2 is linear. Holds when every vanilla variant is quadratic and
                       primal linear; when only some are, it holds only for those.
  growing buffers      attention SRAM high-water mark, largest N over the smallest N of the fit:
                       vanilla growing (> 1.5x) and primal flat (<= 1.1x) holds; vanilla flat means
                       the planners tile the score matrix to fit, and the cost moves to DRAM traffic.
  softmax bottleneck   at the largest N, per vanilla variant: the softmax unit's busy fraction
                       against the array's; at or above it, the softmax sets the pace (holds).
  array kept busy      primal at the largest N: the array's busy fraction (time it works) and its
                       utilization (MACs / (PEs x cycles), how much of it works). Both >= 0.5
                       holds; busy but not utilized holds only for the busy time.
  no softmax unit      primal's softmax unit busy fraction over every N: 0 holds.
  linear latency       primal's cycles slope <= 1.15 holds.
  memory -> compute    at the largest N, the run's bound against its own traffic (roofline_bound)
                       and the compulsory roofline's binding resource: vanilla memory-bound and
                       primal compute-bound holds.
  streaming            primal: DRAM bytes slope <= 1.1 and the attention SRAM high-water mark flat
                       (<= 1.1x) holds.
  faster at long N     the smallest N from which primal's cycles stay below every vanilla
                       variant's at every larger N of the sweep.
  area and power       at the largest N: total energy, primal against the least-energy vanilla
                       variant (below it holds for energy); average power, primal against each
                       vanilla variant; area, given --area (attnsim area --json of the chip with and
                       without its softmax unit): what dropping the unit saves primal.

Usage: claims_table.py RESULTS_CSV [-o OUT.md]
"""
import argparse
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnsim_results as res  # noqa: E402

VANILLA = ("unfused", "flash")
UNIT_NAMES = {"dram": "DRAM", "vector": "vector unit", "softmax": "softmax unit", "array": "array"}
PRIMAL = "primal"


def fail(msg):
    res.fail("claims_table", msg)


short_hw = res.short_hardware


def slope(points):
    """Least-squares slope of ln y against ln x over the three largest x with y > 0."""
    fit = res.loglog_fit(points, 3)
    return fit[0] if fit else None


def fmt(v, digits=2):
    return "-" if v is None else ("%.*f" % (digits, v))


def human_bytes(v):
    """Binary prefixes, as the plots write sizes: 7192576 -> "6.86 MiB"."""
    for div, suffix in ((2 ** 30, "GiB"), (2 ** 20, "MiB"), (2 ** 10, "KiB")):
        if abs(v) >= div:
            return "%.3g %s" % (v / div, suffix)
    return "%.3g B" % v


def stall_shares(r):
    """The array's largest stall causes as shares of the run's cycles, largest first."""
    cycles = num(r, "cycles")
    causes = [(c[len("stall_"):-len("_cycles")].replace("_", " "), num(r, c) / cycles)
              for c in r if c.startswith("stall_") and c.endswith("_cycles") and r[c] != ""]
    causes = [c for c in sorted(causes, key=lambda c: -c[1]) if c[1] >= 0.05]
    return ", ".join("%s %.0f%%" % (name, 100 * share) for name, share in causes) or "no stall above 5%"


class Hw:
    """The rows of one hardware: rows[variant][N] = row."""

    def __init__(self, name):
        self.name = name
        self.rows = defaultdict(dict)

    def ns(self, v):
        return sorted(self.rows.get(v, {}))

    def series(self, v, fn):
        return [(n, fn(self.rows[v][n])) for n in self.ns(v)]

    def top(self, v):
        ns = self.ns(v)
        return self.rows[v][ns[-1]] if ns else None

    def fit_range(self, v):
        ns = self.ns(v)[-3:]
        return (ns[0], ns[-1]) if ns else (None, None)


def num(r, col):
    try:
        return float(r[col])
    except (KeyError, ValueError):
        fail("row %s: column %s is missing or not a number" % (r.get("index", "?"), col))


def dram(r):
    return num(r, "dram_bytes_read") + num(r, "dram_bytes_written")


def growth(hw, v, col):
    lo, hi = hw.fit_range(v)
    if lo is None or num(hw.rows[v][lo], col) <= 0:
        return None
    return num(hw.rows[v][hi], col) / num(hw.rows[v][lo], col)



def area_text(area):
    """(value, verdict) for the area half of the area-and-power claim, from attnsim area with and without
    the softmax unit; None when not given."""
    if not area:
        return None
    full, bare = area
    saved = full["total"] - bare["total"]
    share = saved / full["total"] if full["total"] > 0 else 0.0
    return ("chip %.4g mm^2, %.4g mm^2 without its softmax unit" % (full["total"], bare["total"]),
            "for area, dropping the softmax unit saves primal %.3g mm^2 (%.1f %% of the chip); the SRAM that holds "
            "vanilla's score tiles is the same silicon either way" % (saved, 100 * share))


def claims_for(hw, chip_area=None):
    """[(claim, figure, value text, verdict)] for one hardware; chip_area: (attnsim area --json of the chip, of
    the chip without its softmax unit), or None."""
    vanilla = [v for v in VANILLA if v in hw.rows]
    has_primal = PRIMAL in hw.rows
    out = []
    if not vanilla or not has_primal:
        return out
    top_n = hw.ns(PRIMAL)[-1]
    lo, hi = hw.fit_range(PRIMAL)
    span = "N = %d ... %d" % (lo, hi)

    # Quadratic work.
    s = {v: slope(hw.series(v, lambda r: num(r, "macs"))) for v in vanilla + [PRIMAL]}
    holds = all(s[v] is not None and s[v] >= 1.7 for v in vanilla) and s[PRIMAL] is not None and s[PRIMAL] <= 1.2
    out.append(("Vanilla attention does quadratic work in N, primal linear work",
                "MACs slope in ln N, %s" % span,
                ", ".join("%s %s" % (v, fmt(s[v])) for v in vanilla + [PRIMAL]),
                "holds" if holds else "does not hold"))

    # Quadratic traffic.
    s = {v: slope(hw.series(v, dram)) for v in vanilla + [PRIMAL]}
    quad = [v for v in vanilla if s[v] is not None and s[v] >= 1.7]
    lin = s[PRIMAL] is not None and s[PRIMAL] <= 1.2
    if quad == vanilla and lin:
        verdict = "holds"
    elif quad and lin:
        verdict = "holds only for %s; %s" % (", ".join(quad), ", ".join(
            "%s's grows as N^%s" % (v, fmt(s[v])) for v in vanilla if v not in quad))
    else:
        verdict = "does not hold"
    out.append(("Vanilla attention's DRAM traffic grows quadratically, primal's linearly",
                "DRAM bytes slope in ln N, %s" % span,
                ", ".join("%s %s" % (v, fmt(s[v])) for v in vanilla + [PRIMAL]), verdict))

    # Growing buffers.
    col = "attention_sram_high_water_bytes"
    g = {v: growth(hw, v, col) for v in vanilla + [PRIMAL]}
    primal_flat = g[PRIMAL] is not None and g[PRIMAL] <= 1.1
    growing = [v for v in vanilla if g[v] is not None and g[v] > 1.5]
    tiled = [v for v in vanilla if v not in growing]
    if growing == vanilla and primal_flat:
        verdict = "holds"
    elif primal_flat:
        verdict = "holds for %s; %s tiled to fit the SRAM (%s at N = %d), so the cost moves to DRAM traffic" % (
            ("primal and " + ", ".join(growing)) if growing else "primal only",
            " and ".join("%s's" % v for v in tiled) + " buffers are",
            ", ".join(human_bytes(num(hw.top(v), col)) for v in tiled), top_n)
    else:
        verdict = "does not hold: primal's buffers grow %sx" % fmt(g[PRIMAL])
    out.append(("Vanilla attention needs on-chip buffers that grow with N; primal's stay flat",
                "attention SRAM high-water mark, N = %d over N = %d" % (hi, lo),
                ", ".join("%s %sx" % (v, fmt(g[v])) for v in vanilla + [PRIMAL]), verdict))

    # Softmax as the bottleneck.
    pace = []
    vals = []
    for v in vanilla:
        r = hw.top(v)
        sm = num(r, "softmax_unit_busy_fraction") if r["softmax_unit_busy_fraction"] not in ("", "absent") else None
        arr = num(r, "array_busy_fraction")
        vals.append("%s: softmax %s, array %s" % (v, fmt(sm), fmt(arr)))
        if sm is not None and sm >= arr:
            pace.append(v)
    if pace == vanilla:
        verdict = "holds"
    elif pace:
        verdict = "holds only for %s" % ", ".join(pace)
    else:
        verdict = "does not hold: the array is busier than the softmax unit"
    out.append(("Softmax is a bottleneck of vanilla attention",
                "busy fractions of the softmax unit and the array at N = %d" % top_n, "; ".join(vals), verdict))

    # The array kept busy.
    r = hw.top(PRIMAL)
    busy, util = num(r, "array_busy_fraction"), num(r, "utilization")
    if busy >= 0.5 and util >= 0.5:
        verdict = "holds"
    elif busy >= 0.5:
        verdict = ("holds for busy time only: the array works %.0f%% of the cycles but uses %.1f%% of its "
                   "PE-cycles (primal's GEMMs are thin against a %sx%s array)" % (
                       100 * busy, 100 * util, r.get("rows", "?"), r.get("cols", "?")))
    else:
        verdict = "does not hold: the array works %.0f%% of the cycles; it waits for %s" % (100 * busy, stall_shares(r))
    out.append(("Primal attention keeps the systolic array busy",
                "primal's array busy fraction and utilization at N = %d" % top_n,
                "busy %s, utilization %s" % (fmt(busy), fmt(util, 3)), verdict))

    # No softmax unit needed.
    sm = [r["softmax_unit_busy_fraction"] for r in hw.rows[PRIMAL].values()]
    used = [float(x) for x in sm if x not in ("", "absent")]
    verdict = "holds" if all(x == 0 for x in used) else "does not hold"
    out.append(("Primal attention needs no softmax unit",
                "primal's softmax unit busy fraction, every N",
                "max %s" % fmt(max(used) if used else 0.0, 3), verdict))

    # Linear latency.
    s = slope(hw.series(PRIMAL, lambda r: num(r, "cycles")))
    out.append(("Primal attention's latency grows linearly with N",
                "primal's cycles slope in ln N, %s" % span, fmt(s),
                "holds" if s is not None and s <= 1.15 else "does not hold"))

    # Memory problem into a compute problem.
    vals = []
    vanilla_memory = []
    for v in vanilla + [PRIMAL]:
        r = hw.top(v)
        vals.append("%s: %s-bound, compulsory bound: %s" % (
            v, r["roofline_bound"], UNIT_NAMES.get(r["compulsory_binding"], r["compulsory_binding"])))
        if v != PRIMAL and r["roofline_bound"] == "memory":
            vanilla_memory.append(v)
    primal_compute = hw.top(PRIMAL)["roofline_bound"] == "compute"
    if vanilla_memory == vanilla and primal_compute:
        verdict = "holds"
    elif vanilla_memory and primal_compute:
        verdict = "holds against %s only" % ", ".join(vanilla_memory)
    elif not primal_compute:
        verdict = ("does not hold: primal is itself memory-bound against its own traffic, and its compulsory "
                   "bound is the %s" % UNIT_NAMES.get(hw.top(PRIMAL)["compulsory_binding"],
                                                      hw.top(PRIMAL)["compulsory_binding"]))
    else:
        verdict = "does not hold: vanilla is not memory-bound here"
    out.append(("Primal attention turns a memory problem into a compute problem",
                "the run's bound against its own traffic, and the compulsory roofline's binding resource, "
                "at N = %d" % top_n, "; ".join(vals), verdict))

    # Streaming.
    s = slope(hw.series(PRIMAL, dram))
    g = growth(hw, PRIMAL, "attention_sram_high_water_bytes")
    holds = s is not None and s <= 1.1 and g is not None and g <= 1.1
    out.append(("Primal attention streams: each token passes once, on-chip state independent of N",
                "primal's DRAM bytes slope and attention SRAM growth, %s" % span,
                "slope %s, SRAM %sx" % (fmt(s), fmt(g)), "holds" if holds else "does not hold"))

    # Faster at long sequences.
    ns = [n for n in hw.ns(PRIMAL) if all(n in hw.rows[v] for v in vanilla)]
    faster = [n for n in ns if num(hw.rows[PRIMAL][n], "cycles") < min(num(hw.rows[v][n], "cycles") for v in vanilla)]
    start = None
    for i, n in enumerate(ns):
        if all(m in faster for m in ns[i:]):
            start = n
            break
    ratio = num(hw.rows[PRIMAL][ns[-1]], "cycles") / min(num(hw.rows[v][ns[-1]], "cycles") for v in vanilla)
    out.append(("Primal attention is faster than vanilla attention at long sequences",
                "the smallest N from which primal's cycles stay below the fastest vanilla variant's",
                ("from N = %d; %s of the fastest vanilla's cycles at N = %d" % (start, fmt(ratio, 3), ns[-1]))
                if start else "never", ("holds from N = %d" % start) if start else "does not hold"))

    # Area and power.
    top = hw.top(PRIMAL)
    if top.get("energy_total_pj", "") in ("", None) or top.get("average_power_w", "") in ("", None):
        out.append(("Primal attention costs less area and power (no softmax unit, no N x N buffers)",
                    "energy and area per run", "not in this table",
                    "not measured yet: the table has no energy columns"))
        return out
    n = top_n
    energy = {v: num(hw.rows[v][n], "energy_total_pj") for v in vanilla + [PRIMAL] if n in hw.rows[v]}
    power = {v: num(hw.rows[v][n], "average_power_w") for v in vanilla + [PRIMAL] if n in hw.rows[v]}
    least = min((v for v in vanilla if v in energy), key=lambda v: energy[v])
    ratio = energy[PRIMAL] / energy[least]
    area = num(top, "area_mm2") if top.get("area_mm2", "") != "" else None
    vals = "energy at N = %d: %s; average power: %s; area %s mm^2 for every variant" % (
        n, ", ".join("%s %.3g J" % (v, energy[v] * 1e-12) for v in vanilla + [PRIMAL] if v in energy),
        ", ".join("%s %.3g W" % (v, power[v]) for v in vanilla + [PRIMAL] if v in power), fmt(area, 1))
    less_power = all(power[PRIMAL] < power[v] for v in vanilla if v in power)
    if ratio < 1:
        verdict = "holds for energy (primal %.3g of %s's at N = %d)%s" % (
            ratio, least, n, "" if less_power else ", not for average power (primal draws %.3g W "
            "against %s's %.3g W: the same energy in fewer cycles)" % (power[PRIMAL], least, power[least]))
    else:
        verdict = "does not hold: primal uses %.3g times %s's energy at N = %d" % (ratio, least, n)
    at = area_text(chip_area)
    if at:
        vals += "; " + at[0]
        verdict += "; " + at[1]
    elif ratio < 1:
        verdict += "; area not compared: every variant runs on the same chip, softmax unit included"
    out.append(("Primal attention costs less area and power (no softmax unit, no N x N buffers)",
                "total energy and average power at N = %d (table %s), the chip's area" % (n, top["energy_table"]),
                vals, verdict))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Verdict rules: see the script's docstring.")
    ap.add_argument("results", help="results.csv written by attnsim sweep")
    ap.add_argument("-o", "--out", help="output markdown file (default: standard output)")
    ap.add_argument("--area", nargs=3, action="append", default=[], metavar=("HW", "WITH.json", "WITHOUT.json"),
                    help="attnsim area --json of hardware HW, and of HW with --set /softmax=null (repeatable): "
                         "the area half of the area-and-power claim")
    a = ap.parse_args()
    areas = {hw: (res.read_area("claims_table", w), res.read_area("claims_table", wo)) for hw, w, wo in a.area}
    rows = res.read_rows("claims_table", a.results)
    need = ("status", "hardware", "seq_len", "cycles", "macs", "dram_bytes_read", "dram_bytes_written",
            "attention_sram_high_water_bytes", "array_busy_fraction", "utilization", "softmax_unit_busy_fraction",
            "roofline_bound", "compulsory_binding")
    missing = [c for c in need if c not in rows[0]]
    if missing:
        fail("%s: missing column%s %s" % (a.results, "s" if len(missing) > 1 else "", ", ".join(missing)))
    vcol = res.variant_column(rows[0])
    hws = {}
    for r in res.split_by_status(rows)[0]:
        hw = hws.setdefault(r["hardware"], Hw(r["hardware"]))
        hw.rows[r[vcol]][int(r["seq_len"])] = r

    text = ["## The claims, measured", "",
            "Each claim about vanilla and primal attention in hardware, the figure of this sweep that tests it, "
            "and the verdict, regenerated from `%s` by scripts/claims_table.py (its docstring states each "
            "rule)." % a.results, ""]
    names = sorted(hws, key=short_hw)
    per_hw = {n: claims_for(hws[n], areas.get(n, areas.get(short_hw(n)))) for n in names}
    claims = []
    for n in names:
        for c in per_hw[n]:
            if c[0] not in claims:
                claims.append(c[0])
    if not claims:
        fail("%s: needs primal and unfused or flash rows on some hardware" % a.results)
    head = ["Claim", "Figure"] + ["%s: measured" % short_hw(n) for n in names] + ["%s: verdict" % short_hw(n) for n in names]
    text += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for claim in claims:
        figure = next(c[1] for n in names for c in per_hw[n] if c[0] == claim)
        measured = [next((c[2] for c in per_hw[n] if c[0] == claim), "-") for n in names]
        verdicts = [next((c[3] for c in per_hw[n] if c[0] == claim), "-") for n in names]
        text.append("| " + " | ".join([claim, figure] + measured + verdicts) + " |")
    text.append("")
    out = "\n".join(text) + "\n"
    res.write_text(a.out, out)


if __name__ == "__main__":
    main()
