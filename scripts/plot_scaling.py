#!/usr/bin/env python3
"""Scaling of attention variants with the sequence length N, from a sweep's results table."""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnsim_plots as ap  # noqa: E402
import attnsim_results as res  # noqa: E402

DESCRIPTION = """\
Draws log-log scaling curves against the sequence length N from RESULTS.csv, the table
`attnsim sweep` writes (one row per point; `attnsim run`'s report.csv works too).

Panels, left to right (choose with --panels): cycles; MACs (macs, the work the schedule
does); DRAM bytes (dram_bytes_read + dram_bytes_written); the SRAM high-water mark
(sram_high_water_bytes, with the SRAM capacity dotted); and, with --attention-sram or
--panels ...,attention-sram, attention_sram_high_water_bytes; with --panels ...,energy, the
run's energy (energy_total_pj, in joules). One line per attention variant
(axis.variant, else variant), in the variant's colour, and one row of panels per hardware; when
the sweep varied other axes too (axis.* columns such as an SRAM size), each of their
combinations gets its own line style (pick one with --where). Each legend entry gives the
line's log-log slope and the Ns it is fitted over, its --slope-points largest ("flash: N^1.99
(N = 1K..16K)": cycles ~ N^1.99 between N = 1K and 16K; a line with a failed point at a
large N is fitted over smaller ones, and says so); with more than 6 lines a panel, a single
legend of colours and styles stands beside the figure and the slopes, with their ranges, are
printed on stdout instead. Only rows with status "ok" are drawn; at least two sequence lengths
are needed.

Columns read: seq_len, variant, hardware and those of the panels drawn: cycles, macs,
dram_bytes_read, dram_bytes_written, sram_high_water_bytes, energy_total_pj (and status,
axis.variant, sram_capacity_bytes if present)."""

EPILOG = """\
example:
  /usr/bin/python3 scripts/plot_scaling.py out/sweep/results.csv -o scaling.png
  /usr/bin/python3 scripts/plot_scaling.py results.csv --hardware edge -o edge_scaling.svg
  /usr/bin/python3 scripts/plot_scaling.py results.csv --where bytes_per_bank=65536
  /usr/bin/python3 scripts/plot_scaling.py results.csv --panels cycles,macs -o work.pdf"""

PANELS = {
    # name: (title, y label, kind, columns summed)
    "cycles": ("cycles", "cycles (log)", "count", ["cycles"]),
    "macs": ("MACs", "multiply-accumulates (log)", "count", ["macs"]),
    "dram": ("DRAM traffic", "DRAM bytes read + written (log)", "bytes",
             ["dram_bytes_read", "dram_bytes_written"]),
    "sram": ("SRAM high-water mark", "SRAM high-water mark, bytes (log)", "bytes",
             ["sram_high_water_bytes"]),
    "attention-sram": ("attention SRAM high-water mark",
                       "attention SRAM high-water, bytes (log)", "bytes",
                       ["attention_sram_high_water_bytes"]),
    "energy": ("energy", "energy per run (log)", "energy", ["energy_total_pj"]),
}
DEFAULT_PANELS = "cycles,macs,dram,sram"

MAX_LEGEND_LINES = 6  # more lines a panel: one legend beside the figure, slopes on stdout


fit_slope = res.loglog_fit  # (slope, N first, N last) over the `count` largest Ns, or None


def slope_text(fit, math_text=True):
    """"N^1.99 (N = 4K..16K)"; with math_text the exponent is a superscript in matplotlib."""
    slope, lo, hi = fit
    slope = 0.0 if abs(slope) < 0.005 else slope  # not "-0.00" for a flat line
    power = f"$N^{{{slope:.2f}}}$" if math_text else f"N^{slope:.2f}"
    return f"{power} (N = {ap.fmt_seq(lo)}..{ap.fmt_seq(hi)})"


def parse_panels(text):
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in names if t not in PANELS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"'{text}': expected a comma-separated list of {', '.join(PANELS)}"
            + (f" ({', '.join(unknown)} unknown)" if unknown else ""))
    return list(dict.fromkeys(names))


def build(argv):
    """Parses the command line, reads the table and draws the figure; returns (figure, args,
    slopes, per_panel): slopes a list of (hardware, panel title, line, (slope, N first,
    N last)), per_panel whether they are in the panels' legends (else run() prints them)."""
    p = ap.parser(DESCRIPTION, EPILOG, "scaling.png")
    p.add_argument("results", metavar="RESULTS.csv", help="sweep results table to read")
    p.add_argument("--hardware", nargs="+", metavar="NAME",
                   help="draw only this hardware (short name such as edge, or as in the file)")
    p.add_argument("--panels", type=parse_panels, default=parse_panels(DEFAULT_PANELS),
                   metavar="LIST",
                   help="panels left to right, a comma-separated list of "
                        f"{', '.join(PANELS)} (default: {DEFAULT_PANELS})")
    p.add_argument("--attention-sram", action="store_true",
                   help="add a panel with attention_sram_high_water_bytes")
    p.add_argument("--slope-points", type=int, default=3, metavar="K",
                   help="fit each slope over the K largest Ns of its line (default: 3); the "
                        "legend names the first and last N fitted")
    p.add_argument("--no-slopes", action="store_true", help="leave slopes out of the legends")
    ap.add_where(p)
    args = p.parse_args(argv)
    if args.slope_points < 2:
        p.error("--slope-points must be at least 2")

    ap.output_format(args)
    names = args.panels + (["attention-sram"] if args.attention_sram
                           and "attention-sram" not in args.panels else [])
    metrics = [PANELS[name] for name in names]
    table = ap.read_table(args.results)
    ap.require_one_of(table, ["seq_len", "axis.seq_len"], "for the x axis")
    ap.require_one_of(table, ["variant", "axis.variant"], "to tell the lines apart")
    ap.require_one_of(table, ["hardware", "axis.hardware"], "to tell the hardware apart")
    table.require([c for m in metrics for c in m[3]], "for the panels")

    rows, failed = ap.ok_rows(table)
    rows, failed = ap.select_rows(table, rows, failed, args.where, args.hardware)
    lengths = sorted({ap.seq_len(table, r) for r in rows})
    if len(lengths) < 2:
        raise ap.InputError(f"{table.path}: every point drawn has seq_len {lengths[0]}; a "
                            "scaling plot needs at least two sequence lengths (plot_pareto.py "
                            "and plot_stalls.py draw a single one)")

    # Axes the sweep varied besides N, variant and hardware (SRAM size, dtype, ...): each of
    # their combinations gets its own line style, the variant keeps its colour.
    extra_axes = ap.varying_axes(table, rows, {"axis.seq_len", "axis.variant", "axis.hardware"})
    hardware, combos = [], []
    # data[hardware][(variant, combo)] = {N: row}
    data = {}
    for r in rows:
        hw = ap.hardware_label(table, r)
        if hw not in data:
            hardware.append(hw)
            data[hw] = {}
        combo = ap.axis_suffix(table, r, extra_axes).strip()
        if combo not in combos:
            combos.append(combo)
        series = (ap.variant_label(table, r), combo)
        n = ap.seq_len(table, r)
        points = data[hw].setdefault(series, {})
        if n in points:
            print(f"{os.path.basename(sys.argv[0])}: warning: {table.path}: line {r['_line']}: "
                  f"a second row for {hw} {' '.join(series)} at N = {n}; drawing the first",
                  file=sys.stderr)
            continue
        points[n] = r

    variants = sorted({v for d in data.values() for v, _ in d}, key=ap.variant_sort_key)
    colours = ap.variant_colours(variants)
    style = {c: (ap.LINESTYLES[k % len(ap.LINESTYLES)], ap.MARKERS[k % len(ap.MARKERS)])
             for k, c in enumerate(combos)}
    all_series = sorted({s for d in data.values() for s in d},
                        key=lambda s: (ap.variant_sort_key(s[0]), combos.index(s[1])))
    # Up to 6 lines a panel: a legend in each panel with the lines' slopes. More would cover
    # the lines: one legend of colours (variants) and styles (other axes) beside the figure,
    # and the slopes printed as a table on stdout.
    per_panel = max(len(d) for d in data.values()) <= MAX_LEGEND_LINES
    slope_table = []
    capacity_drawn = False

    plt = ap.pyplot()
    from matplotlib.lines import Line2D
    ncols, nrows = len(metrics), len(hardware)
    size = args.size or (5.2 * ncols + (0 if per_panel else 2.8),
                         max(6.0, 3.9 * nrows + 1.0))
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False, layout="constrained")

    for i, hw in enumerate(hardware):
        for j, (title, ylabel, kind, columns) in enumerate(metrics):
            ax = axes[i][j]
            for series in all_series:
                points = data[hw].get(series)
                if not points:
                    continue
                variant, combo = series
                xy = [(n, sum(ap.number(table, r, c) for c in columns))
                      for n, r in sorted(points.items())]
                label = f"{variant} {combo}".strip()
                fit = None if args.no_slopes else fit_slope(xy, args.slope_points)
                if fit is not None:
                    slope_table.append((hw, title, label, fit))
                    label += ": " + slope_text(fit)
                linestyle, marker = style[combo]
                ax.plot([n for n, _ in xy], [y for _, y in xy], marker=marker, markersize=4,
                        linewidth=1.8, linestyle=linestyle, color=colours[variant], label=label)
            # Log scales first: the limits read below are then the log autoscale's, always
            # above 0 (the linear autoscale's margin goes below 0 when a line spans more than
            # ~20x, and a non-positive limit on a log axis is ignored with a warning).
            ap.log_count_axis(ax, "x", lengths, binary=True)
            if kind == "bytes":
                ap.log_bytes_axis(ax, "y")
            elif kind == "energy":
                ap.log_energy_axis(ax, "y")
            else:
                ap.log_count_axis(ax, "y")
            if columns == ["sram_high_water_bytes"] and table.has("sram_capacity_bytes"):
                caps = {ap.optional_number(table, r, "sram_capacity_bytes")
                        for pts in data[hw].values() for r in pts.values()} - {None}
                if len(caps) == 1:
                    cap = caps.pop()
                    lo, hi = ax.get_ylim()
                    ax.axhline(cap, color="0.3", linestyle=":", linewidth=1.2,
                               label=f"SRAM capacity {ap.fmt_bytes(cap)}")
                    ax.set_ylim(min(lo, cap), max(hi, cap * 1.6))  # the line off the frame
                    capacity_drawn = True
            if kind == "bytes":
                lo, hi = ax.get_ylim()
                if hi / lo < 4:  # a flat line: leave room so it does not sit on the frame
                    ax.set_ylim(lo / 2, hi * 2)
            ax.set_title(f"{hw}: {title}")
            ax.set_xlabel("sequence length N (log)")
            ax.set_ylabel(ylabel)
            if per_panel:
                ax.legend(loc="best", fontsize=8, framealpha=0.85)

    if not per_panel:
        handles = [Line2D([], [], color=colours[v], linewidth=2.5, label=v) for v in variants]
        handles += [Line2D([], [], color="0.25", linestyle=style[c][0], marker=style[c][1],
                           markersize=5, label=c) for c in combos]
        if capacity_drawn:
            handles.append(Line2D([], [], color="0.3", linestyle=":", linewidth=1.2,
                                  label="SRAM capacity"))
        axes[0][ncols - 1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                                  fontsize=8, borderaxespad=0,
                                  title="colour: variant; style: other axes",
                                  title_fontsize=8)

    ap.suptitle(fig, table, rows, failed, "Scaling with sequence length N"
                + ("" if args.no_slopes else
                   f"; legends: log-log slope over each line's {args.slope_points} largest N"))
    return fig, args, slope_table, per_panel


def run(argv):
    fig, args, slope_table, per_panel = build(argv)
    ap.save(fig, args)
    if not per_panel and slope_table:
        print(f"log-log slopes over each line's {args.slope_points} largest N (too many lines "
              "to list in the legends):")
        for hw, metric, label, fit in slope_table:
            print(f"  {hw}: {metric}: {label}: {slope_text(fit, math_text=False)}")


if __name__ == "__main__":
    ap.main(run)
