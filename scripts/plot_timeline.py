#!/usr/bin/env python3
"""Utilization timeline of one simulation, from the timeline.csv of `attnsim run --trace`."""

import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnsim_plots as ap  # noqa: E402

DESCRIPTION = """\
Draws the utilization timeline of one simulation from TIMELINE.csv, the file
`attnsim run --trace DIR` writes as DIR/timeline.csv (one row per window of cycles).

Panels, top to bottom, against the cycle at which each window starts (or the time with
--clock-mhz):
  0. with the run's report.json: the ops of each layer, a row per op (qkv_proj, qk, softmax,
     pv, ...), a bar from the first to the last cycle of the op's instructions in the layer
     (report.json layers[].ops[].start_cycle and end_cycle; an op that occurs twice in a layer,
     such as norm before attention and before the FFN, spans both). The report's "phases" list
     carries no cycles, so the phases are drawn per op of each layer;
  1. busy fraction (0..1) of the systolic array, vector unit, softmax unit, load DMA and
     store DMA, a lane each (or overlaid lines with --units lines), with each one's mean over
     the run;
  2. DRAM bandwidth per channel in GB/s (and their sum when there are several channels), with
     the bytes in flight on a second axis and the peak bandwidth as a dash-dotted line: the
     report's dram.peak_bytes_per_cycle x hardware.array.clock_mhz / 1000 GB/s (GB = 10^9 B),
     or --peak-GBps;
  3. SRAM port use (0..1) of every bank, as a heatmap of banks by windows (or lines with
     --banks lines).
With the report, every panel marks the layers (report.json layers[].start_cycle and end_cycle):
a dashed line where one begins, every other one shaded, "layer 0", "layer 1", ... on top.

The report is report.json beside TIMELINE.csv (`attnsim run --out DIR --trace DIR` writes both
into DIR), or the file named by --report; --no-report leaves it out. It must be of the same run:
its cycles must equal the last window's end cycle.

Columns read: window_start_cycle, window_end_cycle, array_busy, vector_busy, softmax_busy,
load_dma_busy, store_dma_busy, bank0_port_use .. bank{B-1}_port_use,
dram_ch0_GBps .. dram_ch{C-1}_GBps, dram_bytes_in_flight. softmax_busy may be empty or a
word such as "absent" on hardware without a softmax unit. Long traces are drawn as averages
of runs of consecutive windows (--bins)."""

EPILOG = """\
example:
  attnsim run --hw edge --model lra-text --out out/t1 --trace out/t1
  /usr/bin/python3 scripts/plot_timeline.py out/t1/timeline.csv -o timeline.png
  /usr/bin/python3 scripts/plot_timeline.py out/t1/timeline.csv --clock-mhz 940 -o t.svg
  /usr/bin/python3 scripts/plot_timeline.py trace/timeline.csv --report out/report.json
  /usr/bin/python3 scripts/plot_timeline.py timeline.csv --no-report --peak-GBps 53.7"""

UNITS = [
    # (column, legend name, colour)
    ("array_busy", "systolic array", "#1f77b4"),
    ("vector_busy", "vector unit", "#2ca02c"),
    ("softmax_busy", "softmax unit", "#9467bd"),
    ("load_dma_busy", "load DMA", "#ff7f0e"),
    ("store_dma_busy", "store DMA", "#d62728"),
]
CHANNEL_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                   "#17becf"]
DEFAULT_BINS = 400
HEATMAP_COLOURS = "YlGnBu"  # unused ports white-ish, busy ones dark blue
LANE = 0.86  # height of a fully busy unit in its lane of height 1
HEATMAP_MAX_WINDOWS = 20000  # beyond this, an image instead of a mesh of cells


def nice_bytes_step(vmax, max_ticks=6):
    """The smallest power-of-two tick step (1 KiB, 2 KiB, ...) giving at most max_ticks ticks."""
    step = 1.0
    while vmax / step > max_ticks:
        step *= 2
    return step


REPORT_NAME = "report.json"
LAYER_SHADE = "0.5"  # every other layer shaded in this grey, at LAYER_ALPHA
LAYER_ALPHA = 0.07
MAX_LAYER_LABELS = 24  # more layers: label every k-th
OP_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
              "#7f7f7f", "#bcbd22", "#17becf"]


class RunReport:
    """What the timeline draws from `attnsim run`'s report.json: the run's cycles, the DRAM peak
    in GB/s (None if the report lacks it), the layers [(layer, start, end)] and the ops of each
    layer [(layer, op, start, end)], all in cycles."""

    def __init__(self, path, cycles, peak_GBps, layers, ops):
        self.path, self.cycles, self.peak_GBps = path, cycles, peak_GBps
        self.layers, self.ops = layers, ops


def _json_number(path, doc, pointer, required=True):
    """The number at JSON pointer `pointer` ("/dram/peak_bytes_per_cycle") of doc; None if a
    key on the way is absent and not required; InputError naming the file and pointer if it is
    required and absent, or present and not a number."""
    value = doc
    for key in pointer.strip("/").split("/"):
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        elif isinstance(value, dict) and key in value:
            value = value[key]
        elif required:
            raise ap.InputError(f"{path}: {pointer}: missing (is this the report.json of "
                                "`attnsim run`?)")
        else:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ap.InputError(f"{path}: {pointer}: is {json.dumps(value)[:40]}, expected a number")
    return float(value)


def read_report(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise ap.InputError(f"{path}: cannot read: {e.strerror or e}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ap.InputError(f"{path}: not a JSON file: {e}") from None
    if not isinstance(doc, dict):
        raise ap.InputError(f"{path}: expected a JSON object (the report of `attnsim run`)")
    cycles = _json_number(path, doc, "/cycles")
    bytes_per_cycle = _json_number(path, doc, "/dram/peak_bytes_per_cycle", required=False)
    clock_mhz = _json_number(path, doc, "/hardware/array/clock_mhz", required=False)
    # bytes/cycle x 10^6 cycles/s per MHz / 10^9 B per GB
    peak = bytes_per_cycle * clock_mhz / 1000.0 if bytes_per_cycle and clock_mhz else None
    layers, ops = [], []
    raw = doc.get("layers", [])
    if not isinstance(raw, list):
        raise ap.InputError(f"{path}: /layers: expected a list of layers")
    for i, layer in enumerate(raw):
        at = f"/layers/{i}"
        if not isinstance(layer, dict):
            raise ap.InputError(f"{path}: {at}: expected an object")
        index = int(_json_number(path, doc, at + "/layer"))
        start = _json_number(path, doc, at + "/start_cycle")
        end = _json_number(path, doc, at + "/end_cycle")
        layers.append((index, start, end))
        layer_ops = layer.get("ops", {})
        if not isinstance(layer_ops, dict):
            raise ap.InputError(f"{path}: {at}/ops: expected an object of ops")
        for name in layer_ops:
            op_at = f"{at}/ops/{name}"
            op_start = _json_number(path, doc, op_at + "/start_cycle", required=False)
            op_end = _json_number(path, doc, op_at + "/end_cycle", required=False)
            if op_start is not None and op_end is not None and op_end > op_start:
                ops.append((index, name, op_start, op_end))
    return RunReport(path, cycles, peak, layers, ops)


def find_report(args, timeline_path):
    """The report to draw from: --report, else report.json beside the timeline if there is one,
    else None (also with --no-report)."""
    if args.no_report:
        return None
    if args.report:
        return read_report(args.report)
    beside = os.path.join(os.path.dirname(os.path.abspath(timeline_path)), REPORT_NAME)
    return read_report(beside) if os.path.isfile(beside) else None


def build(argv):
    """Parses the command line, reads the timeline (and report) and draws the figure; returns
    (figure, args). Axes and marks carry gids for inspection: axes "phases", "busy", "dram",
    "sram"; "layer-boundary" lines and "layer-label" texts; "peak-bandwidth" line; a bar
    "op:LAYER:NAME" per op of a layer."""
    p = ap.parser(DESCRIPTION, EPILOG, "timeline.png")
    p.add_argument("timeline", metavar="TIMELINE.csv", help="timeline file to read")
    p.add_argument("--clock-mhz", type=float, metavar="F",
                   help="clock frequency in MHz: put time in microseconds on the x axis instead "
                        "of cycles")
    p.add_argument("--units", choices=["lanes", "lines"], default="lanes",
                   help="draw unit busy fractions in a lane each (default) or as overlaid lines")
    p.add_argument("--banks", choices=["heatmap", "lines"], default="heatmap",
                   help="draw SRAM bank port use as a heatmap (default) or one line per bank")
    p.add_argument("--bins", type=int, default=DEFAULT_BINS, metavar="N",
                   help="average runs of consecutive windows so that at most N are drawn "
                        f"(default: {DEFAULT_BINS}; 0 draws every window)")
    p.add_argument("--report", metavar="REPORT.json",
                   help="the run's report, for the layers, ops and DRAM peak (default: "
                        f"{REPORT_NAME} beside TIMELINE.csv, if there is one)")
    p.add_argument("--no-report", action="store_true",
                   help="do not read a report: no layers, ops or peak from it")
    p.add_argument("--peak-GBps", type=float, metavar="GBPS",
                   help="the DRAM peak bandwidth to mark, in GB/s (10^9 B/s), all channels "
                        "together (default: from the report)")
    args = p.parse_args(argv)
    if args.report and args.no_report:
        p.error("--report and --no-report exclude each other")
    if args.peak_GBps is not None and args.peak_GBps <= 0:
        p.error("--peak-GBps must be positive")
    if args.clock_mhz is not None and args.clock_mhz <= 0:
        p.error("--clock-mhz must be positive")
    if args.bins < 0:
        p.error("--bins must be 0 or more")

    ap.output_format(args)
    table = ap.read_table(args.timeline)
    table.require(["window_start_cycle", "window_end_cycle"] + [u[0] for u in UNITS]
                  + ["dram_bytes_in_flight"], "for the timeline")
    banks = table.require_prefixed("bank", "_port_use", "bank0_port_use", "for the SRAM panel")
    channels = table.require_prefixed("dram_ch", "_GBps", "dram_ch0_GBps", "for the DRAM panel")
    rows = table.rows
    if not rows:
        raise ap.InputError(f"{table.path}: no windows (only a header)")
    rows = sorted(rows, key=lambda r: ap.number(table, r, "window_start_cycle"))

    start = [ap.number(table, r, "window_start_cycle") for r in rows]
    end = [ap.number(table, r, "window_end_cycle") for r in rows]
    for r, s, e in zip(rows, start, end):
        if e <= s:
            raise ap.InputError(f"{table.path}: line {r['_line']}: window_end_cycle {e:g} is not "
                                f"after window_start_cycle {s:g}")
    lengths = [e - s for s, e in zip(start, end)]
    total = sum(lengths)
    scale = 1.0 / args.clock_mhz if args.clock_mhz else 1.0  # cycles -> microseconds
    # Drawn bins: runs of `per_bin` consecutive windows, each value the cycle-weighted mean.
    per_bin = math.ceil(len(rows) / args.bins) if args.bins and len(rows) > args.bins else 1
    groups = [range(i, min(i + per_bin, len(rows))) for i in range(0, len(rows), per_bin)]
    xs = [start[g[0]] * scale for g in groups]
    x_end = end[-1] * scale

    def series(column, optional=False):
        get = ap.optional_number if optional else ap.number
        values = [get(table, r, column) for r in rows]
        return [math.nan if v is None else v for v in values]

    def weighted(values, indices):
        pairs = [(values[i], lengths[i]) for i in indices if not math.isnan(values[i])]
        weight = sum(w for _, w in pairs)
        return sum(v * w for v, w in pairs) / weight if weight else math.nan

    def mean(values):
        return weighted(values, range(len(values)))

    def binned(values):
        return values if per_bin == 1 else [weighted(values, g) for g in groups]

    report = find_report(args, args.timeline)
    if report is not None and abs(report.cycles - end[-1]) > 0.5:
        raise ap.InputError(f"{report.path}: the run took {report.cycles:,.0f} cycles but "
                            f"{table.path} ends at cycle {end[-1]:,.0f}: not the same run "
                            "(name its report with --report, or leave it out with --no-report)")
    peak = args.peak_GBps if args.peak_GBps is not None else \
        (report.peak_GBps if report is not None else None)
    op_names = []  # rows of the ops panel, in order of first start
    for _, name, _, _ in sorted(report.ops if report else [], key=lambda o: (o[2], o[0])):
        if name not in op_names:
            op_names.append(name)

    plt = ap.pyplot()
    from matplotlib.ticker import FuncFormatter, MultipleLocator
    if op_names:
        ops_height = 0.12 * len(op_names) + 0.35  # inches: a row per op
        size = args.size or (13.0, 9.5 + ops_height)
        fig, (ax0, ax1, ax2, ax3) = plt.subplots(
            4, 1, figsize=size, sharex=True, layout="constrained", dpi=args.dpi,
            gridspec_kw={"height_ratios": [ops_height / 2.8, 1.0, 0.85, 1.0]})
    else:
        ax0 = None
        size = args.size or (13.0, 9.5)
        fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=size, sharex=True, layout="constrained",
                                            dpi=args.dpi,
                                            gridspec_kw={"height_ratios": [1.0, 0.85, 1.0]})
    ax1.set_gid("busy")
    ax2.set_gid("dram")
    ax3.set_gid("sram")

    # Step lines: a window's value holds from its start to the next window's start.
    def steps(ax, values, **kw):
        values = binned(values)
        return ax.plot(xs + [x_end], values + [values[-1]], drawstyle="steps-post", **kw)

    # 1. busy fractions: a lane per unit (default) or overlaid lines
    if args.units == "lanes":
        lanes = len(UNITS)
        ticks, names = [], []
        for i, (column, name, colour) in enumerate(UNITS):
            base = lanes - 1 - i  # the array on top
            values = series(column, optional=(column == "softmax_busy"))
            m = mean(values)
            ticks.append(base + LANE / 2)
            if math.isnan(m):
                names.append(f"{name}\n(absent)")
                continue
            names.append(f"{name}\nmean {m:.0%}")
            shown_values = [0.0 if math.isnan(v) else v for v in binned(values)]
            ax1.fill_between(xs + [x_end], [base] * (len(xs) + 1),
                             [base + LANE * v for v in shown_values + shown_values[-1:]],
                             step="post", color=colour, alpha=0.85, linewidth=0)
            ax1.axhline(base, color="0.6", linewidth=0.6)
            ax1.axhline(base + LANE, color="0.75", linewidth=0.6, linestyle=":")
        ax1.set_ylim(-0.05, lanes)
        ax1.set_yticks(ticks)
        ax1.set_yticklabels(names, fontsize=8.5)
        ax1.grid(axis="y", visible=False)
        ax1.set_ylabel("busy fraction (each lane 0 to 1)")
        ax1.set_title("unit busy fractions per window (dotted: fully busy)")
    else:
        for column, name, colour in UNITS:
            values = series(column, optional=(column == "softmax_busy"))
            m = mean(values)
            if math.isnan(m):
                ax1.plot([], [], color=colour, label=f"{name} (absent)")
                continue
            steps(ax1, values, color=colour, linewidth=1.3, label=f"{name} (mean {m:.0%})")
        ax1.set_ylim(0, 1.32)
        ax1.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax1.set_ylabel("busy fraction (0-1)")
        ax1.set_title("unit busy fractions per window")
        ax1.legend(loc="upper center", ncol=len(UNITS), fontsize=8.5, framealpha=0.9)

    # 2. DRAM bandwidth and bytes in flight
    handles = []
    per_channel = [series(c) for c in channels]
    for k, (column, values) in enumerate(zip(channels, per_channel)):
        name = column[len("dram_"):-len("_GBps")]
        colour = CHANNEL_COLOURS[k % len(CHANNEL_COLOURS)]
        handles += steps(ax2, values, color=colour, linewidth=1.3,
                         label=f"{name} GB/s (mean {mean(values):.1f})")
        if len(channels) == 1:
            filled = [0.0 if math.isnan(v) else v for v in binned(values)]
            ax2.fill_between(xs + [x_end], 0, filled + filled[-1:], step="post", color=colour,
                             alpha=0.18, linewidth=0)
    if len(channels) > 1:
        summed = [sum(v) for v in zip(*per_channel)]
        handles += steps(ax2, summed, color="black", linewidth=1.5,
                         label=f"all channels GB/s (mean {mean(summed):.1f})")
    top = max([v for vs in per_channel for v in vs if not math.isnan(v)] + [0.0])
    if peak is not None:
        together = " (all channels)" if len(channels) > 1 else ""
        handles.append(ax2.axhline(peak, color="black", linestyle="-.", linewidth=1.3,
                                   gid="peak-bandwidth",
                                   label=f"peak {peak:.1f} GB/s{together}"))
        top = max(top, peak)
    ax2.set_ylim(0, top * 1.35 if top > 0 else 1.0)
    ax2.set_ylabel("DRAM bandwidth (GB/s)")
    ax2.set_title("DRAM bandwidth per channel and bytes in flight")
    inflight = series("dram_bytes_in_flight")
    ax2b = ax2.twinx()
    ax2b.grid(False)
    handles += steps(ax2b, inflight, color="0.45", linewidth=1.0, linestyle="--",
                     label=f"bytes in flight (mean {ap.fmt_bytes(mean(inflight))})")
    peak = max([v for v in inflight if not math.isnan(v)] + [0.0])
    ax2b.set_ylim(0, peak * 1.35 if peak > 0 else 1.0)
    ax2b.yaxis.set_major_locator(MultipleLocator(nice_bytes_step(peak * 1.35 or 1.0)))
    ax2b.yaxis.set_major_formatter(FuncFormatter(lambda v, _: ap.fmt_bytes(v)))
    ax2b.set_ylabel("DRAM bytes in flight")
    ax2.legend(handles=handles, loc="upper center", ncol=min(len(handles), 4), fontsize=8.5,
               framealpha=0.9)

    # 3. SRAM bank port use
    use = [series(c) for c in banks]
    shown = [binned(v) for v in use]
    nb = len(banks)
    if args.banks == "heatmap":
        ax3.grid(False)
        if len(xs) <= HEATMAP_MAX_WINDOWS:
            mesh = ax3.pcolormesh(xs + [x_end], list(range(nb + 1)), shown,
                                  cmap=HEATMAP_COLOURS,
                                  vmin=0.0, vmax=1.0, shading="flat", rasterized=True)
        else:
            mesh = ax3.imshow(shown, aspect="auto", cmap=HEATMAP_COLOURS, vmin=0.0, vmax=1.0,
                              extent=(xs[0], x_end, nb, 0), interpolation="nearest",
                              origin="upper")
        ax3.set_ylim(nb, 0)  # bank 0 on top
        step = max(1, math.ceil(nb / 16))
        ax3.set_yticks([b + 0.5 for b in range(0, nb, step)])
        ax3.set_yticklabels([str(b) for b in range(0, nb, step)], fontsize=8)
        ax3.set_ylabel("SRAM bank")
        bar = fig.colorbar(mesh, ax=ax3, pad=0.01, fraction=0.04, aspect=12)
        bar.set_label("port use (0-1)")
        ax3.set_title(f"SRAM port use per bank ({nb} banks; mean "
                      f"{mean([sum(v) / nb for v in zip(*use)]):.0%})")
    else:
        cmap = plt.get_cmap("tab20")
        for b, values in enumerate(use):
            steps(ax3, values, color=cmap(b % 20), linewidth=1.0, label=f"bank {b}")
        ax3.set_ylim(0, 1.05)
        ax3.set_ylabel("port use (0-1)")
        ax3.set_title(f"SRAM port use per bank ({nb} banks)")
        ax3.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7.5,
                   ncol=1 if nb <= 16 else 2, borderaxespad=0)

    if report is not None:
        mark_layers(report, scale, [a for a in (ax0, ax1, ax2, ax3) if a is not None],
                    ax0 if ax0 is not None else ax1)
    if ax0 is not None:
        draw_ops(ax0, report, op_names, scale)
    ax3.set_xlim(xs[0], x_end)
    if args.clock_mhz:
        ax3.set_xlabel(f"time (µs) at {args.clock_mhz:g} MHz, window start")
    else:
        ax3.set_xlabel("cycle (window start)")
        ax3.xaxis.set_major_formatter(FuncFormatter(lambda v, _: ap.fmt_si(v)))

    window = lengths[0]
    uniform = all(abs(w - window) < 1e-9 for w in lengths[:-1])
    wtext = f"{len(rows)} windows of {'' if uniform else '~'}" \
            f"{window if uniform else total / len(rows):,.0f} cycles"
    if per_bin > 1:
        wtext += f" drawn as {len(groups)} averages of {per_bin}"
    fig.suptitle(f"Utilization timeline — {ap.fmt_si(total)} cycles, {wtext}; {nb} SRAM banks, "
                 f"{len(channels)} DRAM channel{'s' if len(channels) != 1 else ''}"
                 + (f"; {len(report.layers)} layer{'s' if len(report.layers) != 1 else ''}"
                    if report is not None and report.layers else ""))
    return fig, args


def mark_layers(report, scale, axes, top_axis):
    """Every other layer shaded and a dashed line where each layer after the first begins, in
    every panel; "layer i" over each in `top_axis`."""
    layers = sorted(report.layers, key=lambda l: l[1])
    for k, (_, start, end) in enumerate(layers):
        for ax in axes:
            if k % 2 == 1:
                ax.axvspan(start * scale, end * scale, color=LAYER_SHADE, alpha=LAYER_ALPHA,
                           linewidth=0, zorder=0, gid="layer-span")
            if k > 0:
                ax.axvline(start * scale, color="0.35", linestyle="--", linewidth=0.8,
                           zorder=5, gid="layer-boundary")
    every = max(1, math.ceil(len(layers) / MAX_LAYER_LABELS))
    from matplotlib.transforms import blended_transform_factory
    on_top = blended_transform_factory(top_axis.transData, top_axis.transAxes)
    for k, (index, start, end) in enumerate(layers):
        if k % every == 0:
            top_axis.text((start + end) / 2 * scale, 1.0, f"layer {index}", transform=on_top,
                          ha="center", va="bottom", fontsize=8.5, gid="layer-label")
    top_axis.title.set_y(1.0)
    top_axis.set_title(top_axis.get_title(), pad=14)  # above the layer labels


def draw_ops(ax, report, op_names, scale):
    """A row per op, a bar per layer from the op's first to its last cycle in that layer."""
    colour = {name: OP_COLOURS[i % len(OP_COLOURS)] for i, name in enumerate(op_names)}
    rows = len(op_names)
    for layer, name, start, end in report.ops:
        y = rows - 1 - op_names.index(name)  # the first op on top
        bars = ax.barh(y, (end - start) * scale, left=start * scale, height=0.7,
                       color=colour[name], alpha=0.85, linewidth=0)
        bars[0].set_gid(f"op:{layer}:{name}")
    ax.set_ylim(-0.6, rows - 0.4)
    ax.set_yticks(range(rows))
    ax.set_yticklabels(list(reversed(op_names)), fontsize=7.5)
    ax.grid(axis="y", visible=False)
    ax.set_gid("phases")
    ax.set_title("ops of each layer, first to last cycle (report.json layers[].ops; an op that "
                 "occurs twice in a layer spans both)", fontsize=9.5, pad=14)


def run(argv):
    fig, args = build(argv)
    ap.save(fig, args)


if __name__ == "__main__":
    ap.main(run)
