#!/usr/bin/env python3
"""Cycles against on-chip resources (SRAM or array size), energy or area, with the Pareto front,
from a sweep."""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnsim_plots as ap  # noqa: E402

DESCRIPTION = """\
Draws cycles against an on-chip resource from RESULTS.csv, the table `attnsim sweep` writes
(one row per point): the SRAM capacity (sram_capacity_bytes, --x sram, the default), the
array size in PEs (pes, --x pes), the run's energy (energy_total_pj, --x energy) or the chip's
area (area_mm2, --x area), all on log axes. Points are coloured by attention variant
(axis.variant, else variant) and shaped by hardware when there are several. The Pareto front,
the points no other point beats on both cycles and the resource, is drawn as a black step line
and its points are ringed. Every point is labelled with its design, the array size and SRAM
capacity ("32x32, 512 KiB"; the PE count when the file has no rows and cols columns): the
front's points in a box with their variant (and hardware when there are several), the others in
small grey type. A label goes beside its point where it covers no other label or point, else
further off with a thin leader line; if a crowded panel leaves some overlapping, a warning on
stderr says how many (draw fewer with --labels front, or a larger --size). One panel per
sequence length N (seq_len), or only the lengths given with --seq-len. Only rows with status
"ok" are drawn.

Columns read: cycles, the x axis's column, seq_len, variant, hardware (and status,
axis.variant, rows, cols, sram_capacity_bytes, pes if present)."""

EPILOG = """\
example:
  /usr/bin/python3 scripts/plot_pareto.py out/sram_sweep/results.csv -o pareto.png
  /usr/bin/python3 scripts/plot_pareto.py results.csv --x pes --seq-len 4096 -o pareto_pes.pdf
  /usr/bin/python3 scripts/plot_pareto.py results.csv --x energy -o pareto_energy.png"""

MAX_COLUMNS = 3

# --x: (column, axis label, what the title calls it)
X_AXES = {
    "sram": ("sram_capacity_bytes", "on-chip SRAM capacity, bytes (log)", "on-chip SRAM"),
    "pes": ("pes", "array size, PEs (log)", "array size"),
    "energy": ("energy_total_pj", "energy per run (log)", "energy"),
    "area": ("area_mm2", "chip area, mm^2 (log)", "area"),
}


def pareto_front(points):
    """The points (x, y, ...) that no other point matches or beats on both x and y, by x."""
    front, best = [], None
    for p in sorted(points, key=lambda p: (p[0], p[1])):
        if best is None or p[1] < best:
            front.append(p)
            best = p[1]
    return front


def design_label(table, row):
    """The design a point ran on: its array size and SRAM capacity, "32x32, 512 KiB" (the PE
    count, "1K PEs", when the file has no rows and cols columns)."""
    parts = []
    r_, c_ = ap.cell(table, row, "rows"), ap.cell(table, row, "cols")
    pes = ap.optional_number(table, row, "pes")
    if r_ and c_:
        parts.append(f"{r_}x{c_}")
    elif pes is not None:
        parts.append(f"{ap.fmt_seq(pes)} PEs")
    sram = ap.optional_number(table, row, "sram_capacity_bytes")
    if sram is not None:
        parts.append(ap.fmt_bytes(sram))
    return ", ".join(parts) or "?"


FRONT_STYLE = dict(fontsize=7.5, color="black",
                   bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="0.55", alpha=0.9))
POINT_STYLE = dict(fontsize=6.5, color="0.4")


def build(argv):
    """Parses the command line, reads the table and draws the figure; returns (figure, args).
    Each point's label is an annotation of the point, its gid "pareto-front" or "design"."""
    p = ap.parser(DESCRIPTION, EPILOG, "pareto.png")
    p.add_argument("results", metavar="RESULTS.csv", help="sweep results table to read")
    p.add_argument("--x", choices=list(X_AXES), default="sram",
                   help="resource on the x axis: SRAM capacity in bytes (sram, default), "
                        "processing elements of the array (pes), the run's energy (energy) or "
                        "the chip's area in mm^2 (area)")
    p.add_argument("--seq-len", type=int, nargs="+", metavar="N",
                   help="draw only these sequence lengths (default: one panel per length)")
    p.add_argument("--labels", choices=["all", "front", "none"], default="all",
                   help="label every point with its design (all, the default), only the Pareto "
                        "front's points (front) or none")
    p.add_argument("--no-labels", action="store_const", const="none", dest="labels",
                   help="the same as --labels none")
    ap.add_where(p)
    args = p.parse_args(argv)

    ap.output_format(args)
    xcol, xlabel, what = X_AXES[args.x]
    table = ap.read_table(args.results)
    table.require(["cycles", xcol], "for the axes")
    ap.require_one_of(table, ["seq_len", "axis.seq_len"], "to split the panels")
    ap.require_one_of(table, ["variant", "axis.variant"], "to colour the points")
    ap.require_one_of(table, ["hardware", "axis.hardware"], "to shape the points")

    rows, failed = ap.ok_rows(table)
    rows = ap.apply_where(table, rows, args.where)
    failed = ap.apply_where(table, failed, args.where)
    if args.seq_len:
        wanted = set(args.seq_len)
        present = sorted({ap.seq_len(table, r) for r in rows})
        rows = [r for r in rows if ap.seq_len(table, r) in wanted]
        failed = [r for r in failed if ap.cell(table, r, "axis.seq_len") in
                  {str(n) for n in wanted} or ap.cell(table, r, "seq_len") in
                  {str(n) for n in wanted}]
        if not rows:
            raise ap.InputError(f"{table.path}: no rows with status 'ok' at seq_len "
                                f"{' '.join(map(str, args.seq_len))} (the file has: "
                                f"{', '.join(map(str, present)) or 'none'})")
    if not rows:
        raise ap.InputError(f"{table.path}: no rows with status 'ok'"
                            + (" meeting --where " + " ".join(args.where) if args.where else ""))

    # points[N] = [(x, cycles, variant, hardware, row)]
    points = {}
    for r in rows:
        pt = (ap.number(table, r, xcol), ap.number(table, r, "cycles"),
              ap.variant_label(table, r), ap.hardware_label(table, r), r)
        points.setdefault(ap.seq_len(table, r), []).append(pt)
    lengths = sorted(points)
    variants = sorted({pt[2] for pts in points.values() for pt in pts}, key=ap.variant_sort_key)
    colours = ap.variant_colours(variants)
    hardware = []
    for pts in points.values():
        for pt in pts:
            if pt[3] not in hardware:
                hardware.append(pt[3])
    markers = ap.hardware_styles(hardware, ap.MARKERS)
    several_hw = len(hardware) > 1

    def resource_label(value, row):
        r_, c_ = ap.cell(table, row, "rows"), ap.cell(table, row, "cols")
        return f"{r_}x{c_}" if r_ and c_ else ap.fmt_seq(value)

    plt = ap.pyplot()
    from matplotlib.lines import Line2D
    n = len(lengths)
    ncols = n if n <= MAX_COLUMNS else (2 if n == 4 else MAX_COLUMNS)
    nrows = (n + ncols - 1) // ncols
    size = args.size or ((10.0, 6.5) if n == 1 else (5.6 * ncols + 1.0, 4.6 * nrows + 1.2))
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False, layout="constrained",
                             dpi=args.dpi)

    labels = {}  # panel -> labels to place once the layout is fixed
    for k, length in enumerate(lengths):
        ax = axes[k // ncols][k % ncols]
        pts = points[length]
        for x, y, v, hw, _ in pts:
            ax.scatter([x], [y], s=36, color=colours[v], marker=markers[hw], alpha=0.8,
                       edgecolors="none", zorder=3)
        front = pareto_front(pts)
        xs = [pt[0] for pt in front]
        ys = [pt[1] for pt in front]
        xmax = max(pt[0] for pt in pts)
        ax.step(xs + [xmax], ys + [ys[-1]], where="post", color="black", linewidth=1.4,
                zorder=2)
        for x, y, v, hw, r in front:
            ax.scatter([x], [y], s=110, facecolors="none", edgecolors="black", linewidths=1.6,
                       marker=markers[hw], zorder=4)
        # The front's labels first (they get the places nearest their points), then the other
        # points from the fewest cycles up.
        on_front = {id(pt) for pt in front}
        todo = []
        if args.labels != "none":
            for x, y, v, hw, r in front:
                text = f"{design_label(table, r)}\n{v}" + (f", {hw}" if several_hw else "")
                todo.append(dict(x=x, y=y, text=text, gid="pareto-front", style=FRONT_STYLE))
        if args.labels == "all":
            for pt in sorted(pts, key=lambda pt: (pt[1], pt[0])):
                if id(pt) not in on_front:
                    todo.append(dict(x=pt[0], y=pt[1], text=design_label(table, pt[4]),
                                     gid="design", style=POINT_STYLE))
        labels[ax] = (length, todo)
        distinct = sorted({pt[0] for pt in pts})
        if args.x == "sram":
            ap.log_bytes_axis(ax, "x", distinct if len(distinct) <= 10 else None)
        elif args.x == "energy":
            ap.log_energy_axis(ax, "x")
        elif args.x == "area":
            ap.log_count_axis(ax, "x")
        else:
            ap.log_count_axis(ax, "x", distinct if len(distinct) <= 10 else None, binary=True)
            if len(distinct) <= 10:
                from matplotlib.ticker import FixedFormatter
                names = {}
                for x, _, _, _, r in pts:
                    names.setdefault(x, resource_label(x, r))
                ax.xaxis.set_major_formatter(FixedFormatter([names[x] for x in distinct]))
        ax.set_xlabel(xlabel)
        ap.log_count_axis(ax, "y")
        # Room for the labels beside the extreme points.
        xlo, xhi = min(distinct), max(distinct)
        pad = math.exp(0.16 * max(math.log(xhi / xlo), 2.0)) if xlo > 0 else 1.5
        ax.set_xlim(xlo / pad, xhi * pad)
        ylo, yhi = min(pt[1] for pt in pts), max(pt[1] for pt in pts)
        if ylo > 0:
            ypad = math.exp(0.18 * max(math.log(yhi / ylo), 1.0))
            ax.set_ylim(ylo / ypad, yhi * math.sqrt(ypad))
        ax.set_ylabel("cycles (log)")
        ax.set_title(f"N = {ap.fmt_seq(length)} ({length})")
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)

    handles = [Line2D([], [], linestyle="", marker="o", markersize=7, color=colours[v], label=v)
               for v in variants]
    if several_hw:
        handles += [Line2D([], [], linestyle="", marker=markers[h], markersize=7, color="0.4",
                           label=h) for h in hardware]
    handles.append(Line2D([], [], color="black", linewidth=1.4, marker="o", markersize=9,
                          markerfacecolor="none", markeredgewidth=1.6, label="Pareto front"))
    axes[0][0].legend(handles=handles, loc="best", fontsize=8, framealpha=0.9)

    ap.suptitle(fig, table, rows, failed, f"Cycles against {what}, Pareto front in black; "
                                          "points labelled with array size and SRAM")
    if any(todo for _, todo in labels.values()):
        ap.freeze_layout(fig)  # the labels are placed in pixels: the axes must not move after
        for ax, (length, todo) in labels.items():
            _, crowded = ap.place_labels(fig, ax, todo)
            if crowded:
                print(f"{os.path.basename(sys.argv[0])}: warning: N = {length}: {crowded} of "
                      f"{len(todo)} labels overlap another label or point (try --labels front "
                      "or a larger --size)", file=sys.stderr)
    return fig, args


def run(argv):
    fig, args = build(argv)
    ap.save(fig, args)


if __name__ == "__main__":
    ap.main(run)
