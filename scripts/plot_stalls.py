#!/usr/bin/env python3
"""Where the systolic array's cycles go (busy, stalls by cause, other), per point of a sweep."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnsim_plots as ap  # noqa: E402

DESCRIPTION = """\
Draws a stacked bar per point of RESULTS.csv, the table `attnsim sweep` writes (one row per
point; `attnsim run`'s report.csv works too): the run's cycles split into the systolic array's
busy cycles (array_busy_cycles), its stalls by cause (stall_memory_cycles,
stall_softmax_cycles, stall_vector_cycles, stall_dependency_cycles, stall_sram_port_cycles)
and the rest,
"other / idle" = cycles - busy - stalls. Bars are normalised to the run's cycles (fractions
0..1) and labelled by variant, sequence length N and hardware (and the other axes the sweep
varied); the run's total cycles are written at the end of each bar. Points that failed are
listed with their error. Narrow a large sweep with --seq-len, --hardware or --where.

Columns read: cycles, array_busy_cycles, stall_memory_cycles, stall_softmax_cycles,
stall_dependency_cycles, stall_sram_port_cycles, variant, seq_len, hardware (and status,
error, axis.variant, stall_vector_cycles if present: tables written before the vector unit had
a stall cause of its own count those cycles under dependency)."""

EPILOG = """\
example:
  /usr/bin/python3 scripts/plot_stalls.py out/sweep/results.csv -o stalls.png
  /usr/bin/python3 scripts/plot_stalls.py results.csv --seq-len 4096 --hardware edge -o s.pdf"""

PARTS = [
    # (column, legend name, colour, colour of the percentage written in it)
    ("array_busy_cycles", "array busy", "#3182bd", "white"),
    ("stall_memory_cycles", "stall: memory", "#e6550d", "white"),
    ("stall_softmax_cycles", "stall: softmax", "#9e6ebd", "white"),
    ("stall_vector_cycles", "stall: vector unit", "#74c476", "black"),
    ("stall_dependency_cycles", "stall: dependency", "#fdae6b", "black"),
    ("stall_sram_port_cycles", "stall: SRAM port", "#e7ba52", "black"),
]
OPTIONAL = {"stall_vector_cycles"}  # absent from older tables
OTHER = ("other / idle", "#d9d9d9")
LABEL_MIN = 0.06  # segments at least this wide get their percentage written in them


def run(argv):
    p = ap.parser(DESCRIPTION, EPILOG, "stalls.png")
    p.add_argument("results", metavar="RESULTS.csv", help="sweep results table to read")
    p.add_argument("--seq-len", type=int, nargs="+", metavar="N",
                   help="draw only these sequence lengths")
    p.add_argument("--hardware", nargs="+", metavar="NAME",
                   help="draw only this hardware (short name such as edge, or as in the file)")
    p.add_argument("--no-failed", action="store_true", help="leave failed points out")
    ap.add_where(p)
    args = p.parse_args(argv)

    ap.output_format(args)
    table = ap.read_table(args.results)
    table.require(["cycles"] + [part[0] for part in PARTS if part[0] not in OPTIONAL], "for the bars")
    parts = [part for part in PARTS if table.has(part[0]) or part[0] not in OPTIONAL]
    ap.require_one_of(table, ["variant", "axis.variant"], "to label the bars")
    ap.require_one_of(table, ["seq_len", "axis.seq_len"], "to label the bars")
    ap.require_one_of(table, ["hardware", "axis.hardware"], "to label the bars")

    ok, failed = ap.ok_rows(table)
    ok = ap.apply_where(table, ok, args.where)
    failed = ap.apply_where(table, failed, args.where)

    def keep(r):
        if args.hardware and not ap.hardware_matches(ap.hardware_label(table, r), args.hardware):
            return False
        if args.seq_len:
            n = ap.cell(table, r, "seq_len") or ap.cell(table, r, "axis.seq_len")
            if not n.isdigit() or int(n) not in args.seq_len:
                return False
        return True

    ok = [r for r in ok if keep(r)]
    failed = [] if args.no_failed else [r for r in failed if keep(r)]
    if not ok:
        raise ap.InputError(f"{table.path}: no rows with status 'ok'"
                            + (" matching --seq-len/--hardware/--where"
                               if args.seq_len or args.hardware or args.where else ""))

    hw_order = []
    for r in ok + failed:
        h = ap.hardware_label(table, r)
        if h not in hw_order:
            hw_order.append(h)

    def n_of(r):
        text = ap.cell(table, r, "seq_len") or ap.cell(table, r, "axis.seq_len")
        return int(text) if text.isdigit() else 0

    # Axes the sweep varied besides N, variant and hardware (SRAM size, dtype, ...) go into the
    # labels, in the file's order.
    extra_axes = ap.varying_axes(table, ok + failed,
                                 {"axis.seq_len", "axis.variant", "axis.hardware"})

    def key(r):
        return (hw_order.index(ap.hardware_label(table, r)), n_of(r),
                ap.variant_sort_key(ap.variant_label(table, r)), r["_line"])

    bars = sorted([(r, True) for r in ok] + [(r, False) for r in failed],
                  key=lambda b: key(b[0]))

    plt = ap.pyplot()
    from matplotlib.patches import Patch
    from matplotlib.ticker import PercentFormatter
    gaps = sum(1 for a, b in zip(bars, bars[1:]) if key(a[0])[:2] != key(b[0])[:2])
    slots = len(bars) + 0.6 * gaps
    size = args.size or (12.5, max(6.0, 0.34 * slots + 2.2))
    fig, ax = plt.subplots(figsize=size, layout="constrained")

    y, ys, labels = 0.0, [], []
    widest = 1.0
    previous = None
    for r, is_ok in bars:
        k = key(r)[:2]
        if previous is not None and k != previous:
            y += 0.6
        previous = k
        ys.append(y)
        labels.append(f"{ap.variant_label(table, r)}   N={ap.fmt_seq(n_of(r))}   "
                      f"{ap.hardware_label(table, r)}{ap.axis_suffix(table, r, extra_axes)}")
        if not is_ok:
            error = ap.cell(table, r, "error") or "no error message"
            if len(error) > 90:
                error = error[:87] + "..."
            ax.text(0.005, y, f"failed: {error}", va="center", ha="left", fontsize=7.5,
                    color="#b30000", style="italic")
            y += 1
            continue
        cycles = ap.number(table, r, "cycles")
        if cycles <= 0:
            raise ap.InputError(f"{table.path}: line {r['_line']}: column 'cycles' is "
                                f"{cycles:g}, expected a positive count")
        left = 0.0
        for column, name, colour, ink in parts:
            frac = ap.number(table, r, column) / cycles
            if frac > 0:
                ax.barh(y, frac, left=left, height=0.8, color=colour, edgecolor="white",
                        linewidth=0.5)
                if frac >= LABEL_MIN:
                    ax.text(left + frac / 2, y, f"{frac:.0%}", ha="center", va="center",
                            fontsize=7.5, color=ink)
            left += frac
        other = 1.0 - left
        if other > 1e-9:
            ax.barh(y, other, left=left, height=0.8, color=OTHER[1], edgecolor="white",
                    linewidth=0.5)
            if other >= LABEL_MIN:
                ax.text(left + other / 2, y, f"{other:.0%}", ha="center", va="center",
                        fontsize=7.5, color="0.3")
        end = max(1.0, left)
        widest = max(widest, end)
        ax.text(end + 0.01, y, f"{ap.fmt_si(cycles)} cycles", va="center", ha="left",
                fontsize=8)
        y += 1

    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=8.5)
    ax.set_ylim(y - 0.4, -0.6)
    ax.set_xlim(0, widest * 1.13)
    ax.set_xticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.axvline(1.0, color="0.3", linewidth=0.8)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("fraction of the run's cycles (array busy, stalls by cause, other / idle)")
    ax.set_ylabel("point: variant, sequence length N, hardware")
    handles = [Patch(color=part[2], label=part[1]) for part in parts]
    handles.append(Patch(color=OTHER[1], label=OTHER[0]))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles),
              fontsize=8.5, frameon=False)

    models = sorted({ap.cell(table, r, "model") for r in ok} - {""})
    title = "Where the systolic array's cycles go"
    if len(models) == 1:
        title += f" — {ap.short_hardware(models[0])}"
    fig.suptitle(title)
    ap.save(fig, args)


if __name__ == "__main__":
    ap.main(run)
