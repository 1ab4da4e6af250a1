#!/usr/bin/env python3
"""Decode figures from attnsim run --generate: per-token latency and DRAM bytes against the
context length, and throughput against the batch."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnsim_plots as ap  # noqa: E402
import attnsim_results as res  # noqa: E402

DESCRIPTION = """\
Draws one of three decode figures from the generation reports of `attnsim run --generate`
(INPUT: a report.json, its run folder, a folder of run folders, or a table of decode steps
written by decode_summary.py --csv). Every decode step of every report is a point (hardware,
variant, batch, context): a report of one step (--generate 2, e.g. with --decode-only)
gives one context, a longer one a line of steps; where two reports give the same point, a
simulated step wins over an interpolated one.

  latency     the time of a decode step (one token per sequence: the time per output token)
              against the context, log-log, a line per variant (vanilla attention reads a KV
              cache that grows with the context; primal_causal and lowrank_linear carry a state
              of fixed size), a panel per hardware (rows) and batch (columns).
  bytes       a decode step's DRAM bytes against the context, split by what they move: the
              weights, the KV cache or state, the activations (a column of panels each), a row
              per hardware and batch.
  throughput  tokens per second of decode (batch / step time) against the batch, log-log, a line
              per variant and context (--context; default the smallest and largest context every
              line has), a panel per hardware.

In latency and bytes, each legend entry gives the line's log-log slope against the context over
its --slope-points largest contexts (slope 1: proportional to the context; 0: independent of
it). Markers are the simulated steps; a line joins the interpolated ones too."""

EPILOG = """\
example:
  build/attnsim run --hw edge --model gpt-wikitext103 --variant flash --prefill 4096 \\
      --generate 2 --decode-only --out out/d/edge-flash-4k
  /usr/bin/python3 scripts/plot_decode.py latency out/d -o decode_latency.png
  /usr/bin/python3 scripts/plot_decode.py bytes out/d --batch 16 -o decode_bytes.png
  /usr/bin/python3 scripts/plot_decode.py throughput out/d --context 4096 131072"""

COMPONENTS = [("dram_weights_bytes", "weights"), ("dram_state_bytes", "KV cache or state"),
              ("dram_activation_bytes", "activations")]


def slope_text(fit, math_text=True):
    """"c^0.98 (c = 32K..128K)"; with math_text the exponent is a superscript in matplotlib."""
    slope, lo, hi = fit
    slope = 0.0 if abs(slope) < 0.005 else slope
    power = f"$c^{{{slope:.2f}}}$" if math_text else f"c^{slope:.2f}"
    return f"{power} (c = {ap.fmt_seq(lo)}..{ap.fmt_seq(hi)})"


def read(args):
    def error(msg):
        raise ap.InputError(msg)
    rows = res.read_decode_steps(args.inputs, error)
    if args.hardware:
        rows = [r for r in rows if ap.hardware_matches(r["hardware"], args.hardware)]
    if args.batch:
        rows = [r for r in rows if r["batch"] in args.batch]
    if not rows:
        raise ap.InputError(" ".join(args.inputs) + ": no decode steps for the hardware and batch "
                            "asked for")
    return rows


def series(rows):
    """{(hardware, batch): {variant: [rows by context]}} and the variants in drawing order."""
    out = {}
    for r in rows:
        out.setdefault((r["hardware"], r["batch"]), {}).setdefault(r["variant"], []).append(r)
    variants = sorted({r["variant"] for r in rows}, key=ap.variant_sort_key)
    return out, variants


def draw_line(ax, points, colour, label, gid):
    """A line through every (context, y, simulated) of `points`, markers at the simulated ones."""
    xs = [c for c, _, _ in points]
    ys = [y for _, y, _ in points]
    ax.plot(xs, ys, color=colour, linewidth=1.8, label=label, gid=gid)
    sim = [(c, y) for c, y, s in points if s]
    ax.plot([c for c, _ in sim], [y for _, y in sim], linestyle="none", marker="o", markersize=4,
            color=colour, gid=gid + ":simulated")


def context_panels(fig_axes, groups, variants, colours, args, values, ylabel, kind, slopes, tag):
    """Draws each (panel, (hardware, batch)) of fig_axes: a line per variant of values(row)."""
    contexts = sorted({r["context"] for g in groups.values() for rs in g.values() for r in rs})
    for ax, (hw, batch), title in fig_axes:
        for v in variants:
            rs = groups[(hw, batch)].get(v)
            if not rs:
                continue
            pts = [(r["context"], values(r), r["simulated"]) for r in rs]
            fit = None if args.no_slopes else res.loglog_fit([(c, y) for c, y, _ in pts],
                                                             args.slope_points)
            label = v
            if fit is not None:
                slopes.append((hw, batch, title, v, fit))
                label += ": " + slope_text(fit)
            draw_line(ax, [p for p in pts if p[1] > 0], colours[v], label,
                      f"{tag}:{hw}:{batch}:{title}:{v}")
        ap.log_count_axis(ax, "x", contexts if len(contexts) <= 12 else None, binary=True)
        if kind == "bytes":
            ap.log_bytes_axis(ax, "y")
        else:
            ax.set_yscale("log")
        lo, hi = ax.get_ylim()
        if hi / lo < 4:  # a flat line: room above and below so that it does not sit on the frame
            ax.set_ylim(lo / 2, hi * 2)
        ax.set_title(f"{hw}, batch {batch}: {title}")
        ax.set_xlabel("context: tokens in the cache (log)")
        ax.set_ylabel(ylabel)
        ax.legend(loc="best", fontsize=8, framealpha=0.85)


def build(argv):
    """Parses the command line, reads the reports and draws the figure; returns (figure, args,
    slopes): slopes a list of (hardware, batch, panel title, variant, (slope, first context,
    last context)) for latency and bytes, empty for throughput. Lines have the gid
    "<figure>:<hardware>:<batch>:<panel title>:<variant>" (throughput:
    "throughput:<hardware>:<variant>:<context>"); the simulated steps' markers the same with
    ":simulated"."""
    p = ap.parser(DESCRIPTION, EPILOG, "decode.png")
    p.add_argument("figure", choices=["latency", "bytes", "throughput"], help="the figure to draw")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="report.json, run folders, folders of run folders, or decode tables (.csv)")
    p.add_argument("--hardware", nargs="+", metavar="NAME", help="draw only this hardware")
    p.add_argument("--batch", type=int, nargs="+", metavar="B", help="draw only these batches")
    p.add_argument("--context", type=int, nargs="+", metavar="C",
                   help="throughput: the contexts drawn (default: the smallest and the largest "
                        "context every line has)")
    p.add_argument("--slope-points", type=int, default=3, metavar="K",
                   help="fit each slope over the K largest contexts of its line (default: 3)")
    p.add_argument("--no-slopes", action="store_true", help="leave slopes out of the legends")
    args = p.parse_args(argv)
    if args.slope_points < 2:
        p.error("--slope-points must be at least 2")
    ap.output_format(args)
    rows = read(args)
    groups, variants = series(rows)
    colours = ap.variant_colours(variants)
    hardware = list(dict.fromkeys(hw for hw, _ in sorted(groups, key=lambda k: (k[0] != "edge", k))))
    batches = sorted({b for _, b in groups})
    plt = ap.pyplot()
    slopes = []
    if args.figure == "latency":
        fig, axes = plt.subplots(len(hardware), len(batches), squeeze=False, layout="constrained",
                                 figsize=args.size or (5.6 * len(batches), 4.2 * len(hardware) + 0.8))
        panels = [(axes[i][j], (hw, b), "time per token")
                  for i, hw in enumerate(hardware) for j, b in enumerate(batches) if (hw, b) in groups]
        context_panels(panels, groups, variants, colours, args, lambda r: r["time_s"] * 1e3,
                       "time of a decode step, ms (log)", "time", slopes, "latency")
        title = "Time per output token against the context"
    elif args.figure == "bytes":
        keys = [(hw, b) for hw in hardware for b in batches if (hw, b) in groups]
        fig, axes = plt.subplots(len(keys), len(COMPONENTS), squeeze=False, layout="constrained",
                                 figsize=args.size or (5.2 * len(COMPONENTS), 3.9 * len(keys) + 0.8))
        for j, (column, name) in enumerate(COMPONENTS):
            panels = [(axes[i][j], k, name) for i, k in enumerate(keys)]
            context_panels(panels, groups, variants, colours, args, lambda r, c=column: r[c],
                           f"{name}: bytes per step (log)", "bytes", slopes, "bytes")
        title = "DRAM bytes of a decode step (one token per sequence) against the context"
    else:
        fig, axes = plt.subplots(1, len(hardware), squeeze=False, layout="constrained",
                                 figsize=args.size or (6.0 * len(hardware), 5.0))
        draw_throughput(axes[0], hardware, rows, variants, colours, args)
        title = "Decode throughput against the batch"
    if args.figure != "throughput" and not args.no_slopes:
        title += f"; legends: log-log slope over each line's {args.slope_points} largest contexts"
    fig.suptitle(title)
    return fig, args, slopes


def throughput_contexts(rows, args):
    if args.context:
        return sorted(set(args.context))
    lines = {}
    for r in rows:
        lines.setdefault((r["hardware"], r["variant"], r["batch"]), set()).add(r["context"])
    common = set.intersection(*lines.values())
    every = sorted({r["context"] for r in rows})
    return sorted({min(common), max(common)}) if common else sorted({every[0], every[-1]})


def draw_throughput(axes, hardware, rows, variants, colours, args):
    contexts = throughput_contexts(rows, args)
    styles = {c: ap.LINESTYLES[k % len(ap.LINESTYLES)] for k, c in enumerate(contexts)}
    markers = {c: ap.MARKERS[k % len(ap.MARKERS)] for k, c in enumerate(contexts)}
    drawn = 0
    for ax, hw in zip(axes, hardware):
        batches = set()
        for v in variants:
            for c in contexts:
                pts = sorted((r["batch"], r["batch"] / r["time_s"]) for r in rows
                             if r["hardware"] == hw and r["variant"] == v and r["context"] == c)
                if not pts:
                    continue
                drawn += 1
                batches.update(b for b, _ in pts)
                ax.plot([b for b, _ in pts], [t for _, t in pts], color=colours[v],
                        linestyle=styles[c], marker=markers[c], markersize=5, linewidth=1.8,
                        label=f"{v}, context {ap.fmt_seq(c)}", gid=f"throughput:{hw}:{v}:{c}")
        ap.log_count_axis(ax, "x", sorted(batches), binary=True)
        ap.log_count_axis(ax, "y")
        ax.set_title(f"{hw}: decode tokens per second")
        ax.set_xlabel("batch: sequences decoded together (log)")
        ax.set_ylabel("tokens per second (log)")
        ax.legend(loc="best", fontsize=8, framealpha=0.85)
    if not drawn:
        raise ap.InputError(" ".join(args.inputs) + ": no decode step at the contexts "
                            + ", ".join(map(str, contexts)))


def run(argv):
    fig, args, _ = build(argv)
    ap.save(fig, args)


if __name__ == "__main__":
    ap.main(run)
