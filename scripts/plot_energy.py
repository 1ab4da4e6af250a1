#!/usr/bin/env python3
"""Energy figures from a sweep's results table: the breakdown by component, energy against N, and
the Pareto fronts of cycles against energy and against area."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnsim_plots as ap  # noqa: E402
import attnsim_results as res  # noqa: E402

DESCRIPTION = """\
Draws one of three energy figures from RESULTS.csv, the table `attnsim sweep` writes (one row
per point; `attnsim run`'s report.csv works too):

  breakdown  a stacked bar per attention variant (axis.variant, else variant): the run's energy
             split into its components, every energy_<component>_pj column of the file (array,
             sram, vector, softmax, dma, dram, leakage today; a column added later is drawn
             without a change here; a column that is the sum of finer ones, energy_dram_pj beside
             energy_dram_<part>_pj, gives way to them). Top row: joules; bottom row: each
             component's share of the bar. One column of panels per hardware and N: the Ns of
             --seq-len, by default the largest N at which every variant of that hardware
             simulated. Where the components do not add up to energy_total_pj, the difference is
             drawn as "unaccounted" and a warning says so. The total is written above each bar.
  scaling    energy (energy_total_pj) against N on log-log axes, a line per variant and a row per
             hardware, each legend entry with the line's log-log slope and the Ns it is fitted
             over: plot_scaling.py --panels energy (its options --slope-points, --hardware,
             --no-slopes apply).
  pareto     cycles against energy (--x energy, the default) or against the chip's area
             (--x area, area_mm2), with the Pareto front and every point labelled with its design:
             plot_pareto.py --x energy|area (its options --seq-len, --labels apply).

Only rows with status "ok" are drawn.

Columns read (breakdown): seq_len, variant, hardware, energy_total_pj, energy_*_pj (and
status, axis.variant, other axis.* columns if present)."""

EPILOG = """\
example:
  /usr/bin/python3 scripts/plot_energy.py breakdown out/main/scaling/results.csv --seq-len 4096
  /usr/bin/python3 scripts/plot_energy.py scaling out/main/scaling/results.csv -o energy_n.png
  /usr/bin/python3 scripts/plot_energy.py pareto out/main/design/results.csv --x area -o area.png"""

# One colour per component, the same in every figure; components the table adds later get the
# others in turn.
COMPONENT_COLOURS = {
    "array": "#4c72b0",
    "sram": "#55a868",
    "vector": "#8172b2",
    "softmax": "#c44e52",
    "datapath": "#2a9d8f",
    "dma": "#ccb974",
    "dram": "#dd8452",
    "leakage": "#8c8c8c",
    "unaccounted": "#ffffff",
}
_OTHER_COMPONENT_COLOURS = ["#64b5cd", "#da8bc3", "#937860", "#b5cf6b", "#e7969c", "#6b6ecf"]

TOLERANCE = 1e-6  # relative: components that add up to the total within it are taken as adding up


def component_colours(names):
    out, k = {}, 0
    for n in names:
        if n in COMPONENT_COLOURS:
            out[n] = COMPONENT_COLOURS[n]
        elif n.startswith("dram_"):  # finer DRAM components: shades of DRAM's colour
            out[n] = ap._mix(COMPONENT_COLOURS["dram"], "white" if k % 2 else "black", 0.3)
            k += 1
        else:
            out[n] = _OTHER_COMPONENT_COLOURS[k % len(_OTHER_COMPONENT_COLOURS)]
            k += 1
    return out


def breakdown_bars(table, rows, components):
    """[(label, {component: pJ}, total pJ)] for `rows`, one per row, with an "unaccounted"
    component where the components fall short of energy_total_pj (or exceed it: then negative),
    and the number of such rows."""
    bars, short = [], 0
    extra_axes = ap.varying_axes(table, rows, {"axis.seq_len", "axis.variant", "axis.hardware"})
    for r in rows:
        parts = {name: ap.number(table, r, col) for name, col in components}
        total = ap.number(table, r, "energy_total_pj")
        gap = total - sum(parts.values())
        if abs(gap) > TOLERANCE * max(abs(total), 1.0):
            parts["unaccounted"] = gap
            short += 1
        label = ap.variant_label(table, r) + ap.axis_suffix(table, r, extra_axes)
        bars.append((label, parts, total))
    bars.sort(key=lambda b: (ap.variant_sort_key(b[0]), b[0]))
    return bars, short


def default_lengths(table, rows):
    """The largest N at which every variant of the rows simulated (the largest N if none)."""
    by_variant = {}
    for r in rows:
        by_variant.setdefault(ap.variant_label(table, r), set()).add(ap.seq_len(table, r))
    common = set.intersection(*by_variant.values()) if by_variant else set()
    every = {n for ns in by_variant.values() for n in ns}
    return [max(common)] if common else [max(every)]


def build_breakdown(argv):
    """Parses the command line, reads the table and draws the breakdown; returns (figure, args,
    panels): panels a list of (hardware, N, bars) as breakdown_bars gives them. Each bar segment
    is a patch with gid "segment:<bar label>:<component>", each total above a bar a text with gid
    "total:<bar label>"."""
    p = ap.parser(DESCRIPTION, EPILOG, "energy_breakdown.png")
    p.add_argument("figure", choices=["breakdown", "scaling", "pareto"],
                   help="the figure to draw (first argument; scaling and pareto take the "
                        "options of plot_scaling.py and plot_pareto.py)")
    p.add_argument("results", metavar="RESULTS.csv", help="sweep results table to read")
    p.add_argument("--hardware", nargs="+", metavar="NAME",
                   help="draw only this hardware (short name such as edge, or as in the file)")
    p.add_argument("--seq-len", type=int, nargs="+", metavar="N",
                   help="the sequence lengths to draw (default: per hardware, the largest N at "
                        "which every variant simulated)")
    ap.add_where(p)
    args = p.parse_args(argv)
    if args.figure != "breakdown":
        p.error(f"{args.figure} must come first (plot_energy.py {args.figure} RESULTS.csv ...)")

    ap.output_format(args)
    table = ap.read_table(args.results)
    ap.require_one_of(table, ["seq_len", "axis.seq_len"], "to pick the points")
    ap.require_one_of(table, ["variant", "axis.variant"], "to name the bars")
    ap.require_one_of(table, ["hardware", "axis.hardware"], "to split the panels")
    table.require(["energy_total_pj"], "for the bars' totals")
    rows, failed = ap.ok_rows(table)
    components = res.energy_components(table.header, rows)
    if not components:
        raise ap.InputError(f"{table.path}: no energy_<component>_pj columns (needed for the "
                            "breakdown; attnsim writes them when the hardware has an energy "
                            "table); the header has: " + ap._listing(table.header))
    rows, failed = ap.select_rows(table, rows, failed, args.where, args.hardware)

    hardware = []
    for r in rows:
        hw = ap.hardware_label(table, r)
        if hw not in hardware:
            hardware.append(hw)
    panels = []
    for hw in hardware:
        mine = [r for r in rows if ap.hardware_label(table, r) == hw]
        lengths = args.seq_len or default_lengths(table, mine)
        present = sorted({ap.seq_len(table, r) for r in mine})
        for n in lengths:
            at_n = [r for r in mine if ap.seq_len(table, r) == n]
            if not at_n:
                raise ap.InputError(f"{table.path}: no rows with status 'ok' for {hw} at seq_len "
                                    f"{n} (it has: {', '.join(map(str, present))})")
            bars, short = breakdown_bars(table, at_n, components)
            if short:
                print(f"{os.path.basename(sys.argv[0])}: warning: {table.path}: {hw}, N = {n}: "
                      f"in {short} of {len(bars)} rows the energy_*_pj components do not add up "
                      "to energy_total_pj; the difference is drawn as 'unaccounted'",
                      file=sys.stderr)
            panels.append((hw, n, bars))

    names = [name for name, _ in components]
    if any("unaccounted" in parts for _, _, bars in panels for _, parts, _ in bars):
        names.append("unaccounted")
    colours = component_colours(names)

    plt = ap.pyplot()
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, PercentFormatter
    ncols = len(panels)
    most = max(len(bars) for _, _, bars in panels)
    size = args.size or (max(5.0, 0.75 * most + 2.0) * ncols + 1.8, 8.5)
    fig, axes = plt.subplots(2, ncols, figsize=size, squeeze=False, layout="constrained",
                             dpi=args.dpi)
    for j, (hw, n, bars) in enumerate(panels):
        top, bottom = axes[0][j], axes[1][j]
        xs = list(range(len(bars)))
        for x, (label, parts, total) in zip(xs, bars):
            base_abs = base_share = 0.0
            whole = sum(parts.values())
            for name in names:
                if name not in parts:
                    continue
                value = parts[name]
                edge = dict(edgecolor="0.3", linewidth=0.6, hatch="//") \
                    if name == "unaccounted" else dict(edgecolor="white", linewidth=0.4)
                bar = top.bar(x, value, bottom=base_abs, width=0.7, color=colours[name], **edge)
                bar.patches[0].set_gid(f"segment:{label}:{name}")
                share = value / whole if whole else 0.0
                bottom.bar(x, share, bottom=base_share, width=0.7, color=colours[name], **edge)
                base_abs += value
                base_share += share
            t = top.annotate(res.fmt_energy_pj(total), (x, max(base_abs, total)),
                             xytext=(0, 3), textcoords="offset points", ha="center",
                             va="bottom", fontsize=8)
            t.set_gid(f"total:{label}")
        for ax in (top, bottom):
            ax.set_xticks(xs)
            ax.set_xticklabels([b[0] for b in bars], rotation=30 if most > 3 else 0,
                               ha="right" if most > 3 else "center", fontsize=8.5)
            ax.grid(axis="x", visible=False)
        top.set_ylim(0, max(max(b[2] for b in bars), max(sum(b[1].values()) for b in bars)) * 1.12)
        top.yaxis.set_major_formatter(FuncFormatter(lambda v, _: res.fmt_energy_pj(v, 2) if v else "0"))
        top.set_title(f"{hw}, N = {ap.fmt_seq(n)} ({n})")
        bottom.set_ylim(0, 1)
        bottom.yaxis.set_major_formatter(PercentFormatter(1.0))
        if j == 0:
            top.set_ylabel("energy per run")
            bottom.set_ylabel("share of the run's energy")
    handles = [Patch(facecolor=colours[n], edgecolor="0.3" if n == "unaccounted" else "white",
                     hatch="//" if n == "unaccounted" else None, label=n) for n in reversed(names)]
    axes[0][ncols - 1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                              fontsize=8.5, borderaxespad=0, title="component", title_fontsize=8.5)
    table_names = sorted({ap.cell(table, r, "energy_table") for r in rows} - {""})
    ap.suptitle(fig, table, rows, failed, "Energy per run by component"
                + (f" ({', '.join(table_names)})" if table_names else ""))
    return fig, args, panels


def run(argv):
    """The figure named first: scaling and pareto hand the other arguments to plot_scaling.py and
    plot_pareto.py (with --panels energy and --x energy unless given)."""
    figure, rest = (argv[0], argv[1:]) if argv else (None, [])
    has_out = any(a in ("-o", "--out") or a.startswith("--out=") for a in rest)
    if figure == "scaling":
        import plot_scaling
        extra = ([] if "--panels" in rest else ["--panels", "energy"]) \
            + ([] if has_out else ["-o", "energy_scaling.png"])
        plot_scaling.run(rest + extra)
    elif figure == "pareto":
        import plot_pareto
        extra = ([] if "--x" in rest else ["--x", "energy"]) \
            + ([] if has_out else ["-o", "energy_pareto.png"])
        plot_pareto.run(rest + extra)
    else:  # breakdown; --help and usage errors from its parser
        fig, args, _ = build_breakdown(argv)
        ap.save(fig, args)


if __name__ == "__main__":
    ap.main(run)
