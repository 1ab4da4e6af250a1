#!/usr/bin/env python3
"""Runs the plot scripts (scripts/plot_*.py) on the fixtures in tests/data/plots and checks that
every figure is drawn at the expected size, that --help works, and that an input file lacking a
column is refused with exit status 2 and a message naming the file and the column. Then it draws
the Pareto, scaling and timeline figures in this process (each script's build()) and checks what
they show against values derived here from the fixtures: every design point labelled with its
array size and SRAM, the Pareto front (found by brute force) labelled apart, no two labels
overlapping; each legend's slope (a least-squares fit done here) and the Ns it is fitted over;
the MACs panel; the timeline's peak DRAM bandwidth line, layer boundaries and op bars.

Run by ctest with /usr/bin/python3 (the interpreter with Debian's matplotlib); by hand:
  /usr/bin/python3 tests/test_plots.py

Fixtures (tests/data/plots, README.md there tells how they were made): results.csv, an
`attnsim sweep` of lra-text over hardware (edge, cloud), N (256 .. 16384) and variant, with one
failed point; sram_sweep.csv, a sweep of lra-text at N = 4096 on edge over variant, SRAM size
and array size; timeline.csv, `attnsim run --trace` of lra-text, unfused, N = 1024 on edge in
242 windows of 4096 cycles (16 SRAM banks, one DRAM channel), and report.json, that run's
report.
"""

import concurrent.futures
import csv
import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(os.path.dirname(HERE), "scripts")
DATA = os.path.join(HERE, "data", "plots")
RESULTS = os.path.join(DATA, "results.csv")
SRAM_SWEEP = os.path.join(DATA, "sram_sweep.csv")
TIMELINE = os.path.join(DATA, "timeline.csv")
REPORT = os.path.join(DATA, "report.json")
DPI = 130  # the scripts' default

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)
    return ok


def run(script, *args):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    env.setdefault("MPLCONFIGDIR", tempfile.gettempdir())
    p = subprocess.run([sys.executable, os.path.join(SCRIPTS, script)] + list(args),
                       capture_output=True, text=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def without_column(src, column, dst):
    """Copies a CSV file leaving one column out."""
    with open(src, newline="") as f:
        rows = list(csv.reader(f))
    k = rows[0].index(column)
    with open(dst, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([r[:k] + r[k + 1:] for r in rows])


def with_cell(src, line, column, value, dst):
    """Copies a CSV file with one cell (file line `line`, 2 = first data row) replaced."""
    with open(src, newline="") as f:
        rows = list(csv.reader(f))
    rows[line - 1][rows[0].index(column)] = value
    with open(dst, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


# ---------------------------------------------------------------------------------------------
# What the figures show, checked in this process against values derived here

# Sizes and lengths in the fixtures, written out by hand: sram_sweep.csv has 16 banks of 8, 32
# and 128 KiB; edge has 512 KiB, cloud 32 MiB.
SRAM_TEXT = {131072: "128 KiB", 524288: "512 KiB", 2097152: "2 MiB", 33554432: "32 MiB"}
N_TEXT = {256: "256", 1024: "1K", 4096: "4K", 16384: "16K"}


def csv_rows(path):
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if r["status"] == "ok"]


def short_hw(name):
    return name.split(":", 1)[1] if name.startswith("preset:") else name


def brute_front(points):
    """Keys of the points (x, y, key) that no other point matches or beats on both x and y."""
    return sorted(p[2] for p in points
                  if not any(q[0] <= p[0] and q[1] <= p[1] and (q[0], q[1]) != (p[0], p[1])
                             for q in points))


def lsq_slope(pairs):
    """Least-squares slope of log y on log N, written out (not the script's code)."""
    xs = [math.log(n) for n, _ in pairs]
    ys = [math.log(y) for _, y in pairs]
    n = len(xs)
    return (n * sum(x * y for x, y in zip(xs, ys)) - sum(xs) * sum(ys)) / \
        (n * sum(x * x for x in xs) - sum(xs) ** 2)


def by_gid(artists, prefix):
    return [a for a in artists if (a.get_gid() or "").startswith(prefix)]


def check_pareto(plot_pareto, ap, path, what, several_hw):
    fig, _ = plot_pareto.build([path])
    rows = csv_rows(path)
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    lengths = sorted({int(r["seq_len"]) for r in rows})
    check(len(panels) == len(lengths), f"pareto {what}: a panel per N ({len(lengths)}; got "
                                       f"{len(panels)})")
    for n in lengths:
        ax = panels.get(f"N = {N_TEXT[n]} ({n})")
        if not check(ax is not None, f"pareto {what}: panel N = {n}"):
            continue
        pts = [r for r in rows if int(r["seq_len"]) == n]
        points = [(int(r["sram_capacity_bytes"]), int(r["cycles"]), k) for k, r in enumerate(pts)]
        front = brute_front(points)
        expected = []
        for k, r in enumerate(pts):
            design = f"{r['rows']}x{r['cols']}, {SRAM_TEXT[int(r['sram_capacity_bytes'])]}"
            if k in front:
                design += "\n" + r["axis.variant"] + (f", {short_hw(r['hardware'])}"
                                                      if several_hw else "")
            expected.append((float(r["sram_capacity_bytes"]), float(r["cycles"]),
                             "pareto-front" if k in front else "design", design))
        labels = by_gid(ax.texts, "pareto-front") + by_gid(ax.texts, "design")
        got = [(float(a.xy[0]), float(a.xy[1]), a.get_gid(), a.get_text()) for a in labels]
        check(sorted(got) == sorted(expected),
              f"pareto {what} N = {n}: every point labelled with its array size and SRAM, the "
              f"{len(front)} front points with their variant ({len(expected)} labels; "
              f"missing {sorted(set(expected) - set(got))[:3]}, unexpected "
              f"{sorted(set(got) - set(expected))[:3]})")
        overlaps = ap.text_boxes_overlap(fig, labels)
        check(not overlaps, f"pareto {what} N = {n}: no two of the {len(labels)} labels overlap "
                            f"({[(labels[i].get_text(), labels[j].get_text()) for i, j in overlaps][:3]})")
        frame = ax.get_window_extent(fig.canvas.get_renderer())
        outside = [a.get_text() for a in labels
                   if not frame.contains(*a.get_window_extent().p0)
                   or not frame.contains(*a.get_window_extent().p1)]
        check(not outside, f"pareto {what} N = {n}: labels inside the panel ({outside[:3]})")
    return fig


def content_checks(tmp):
    sys.path.insert(0, SCRIPTS)
    os.environ.setdefault("MPLCONFIGDIR", tempfile.gettempdir())
    import attnsim_plots as ap
    import plot_pareto
    import plot_scaling
    import plot_timeline
    plt = ap.pyplot()

    # Pareto. By hand: the one front of sram_sweep.csv is lowrank_linear on 64x64 at 128 KiB
    # (1,187,646 cycles) and at 512 KiB (1,107,144); at 2 MiB its 1,158,182 is beaten by the
    # latter, and every other point has more cycles at the same or more SRAM.
    sweep = csv_rows(SRAM_SWEEP)
    front = brute_front([(int(r["sram_capacity_bytes"]), int(r["cycles"]), k)
                         for k, r in enumerate(sweep)])
    check([(sweep[k]["axis.variant"], sweep[k]["rows"], sweep[k]["cycles"]) for k in front]
          == [("lowrank_linear", "64", "1187646"), ("lowrank_linear", "64", "1107144")],
          "sram_sweep.csv: the brute-force front is lowrank_linear 64x64 at 128 and 512 KiB")
    plt.close(check_pareto(plot_pareto, ap, SRAM_SWEEP, "sram_sweep.csv", several_hw=False))
    plt.close(check_pareto(plot_pareto, ap, RESULTS, "results.csv", several_hw=True))
    fig, _ = plot_pareto.build([SRAM_SWEEP, "--labels", "front"])
    texts = [t.get_gid() for ax in fig.axes for t in ax.texts]
    check(texts == ["pareto-front"] * 2, f"pareto --labels front: only the 2 front points "
                                         f"labelled (got {texts})")
    plt.close(fig)

    # Scaling: every legend names its slope and the Ns fitted, the 3 largest of the line's
    # points that simulated (edge row_fused failed at 16K: fitted over 256..4K).
    fig, _, _, per_panel = plot_scaling.build([RESULTS])
    check(per_panel, "scaling: slopes in the panels' legends (4 lines a panel)")
    rows = csv_rows(RESULTS)
    panels = {ax.get_title(): ax for ax in fig.axes}
    columns = {"cycles": ["cycles"], "MACs": ["macs"],
               "DRAM traffic": ["dram_bytes_read", "dram_bytes_written"],
               "SRAM high-water mark": ["sram_high_water_bytes"]}
    pattern = re.compile(r"^(\S+): \$N\^\{(-?[0-9.]+)\}\$ \(N = (\S+)\.\.(\S+)\)$")
    checked = 0
    for hw in ("edge", "cloud"):
        for title, cols in columns.items():
            ax = panels.get(f"{hw}: {title}")
            if not check(ax is not None, f"scaling: panel '{hw}: {title}'"):
                continue
            legend = {}
            for t in ax.get_legend().get_texts():
                m = pattern.match(t.get_text())
                if m:
                    legend[m.group(1)] = (float(m.group(2)), m.group(3), m.group(4))
            variants = sorted({r["axis.variant"] for r in rows})
            for v in variants:
                pairs = sorted((int(r["seq_len"]), sum(int(r[c]) for c in cols)) for r in rows
                               if short_hw(r["hardware"]) == hw and r["axis.variant"] == v)[-3:]
                want = (round(lsq_slope(pairs), 2) + 0.0, N_TEXT[pairs[0][0]], N_TEXT[pairs[-1][0]])
                got = legend.get(v)
                ok = got is not None and abs(got[0] - want[0]) < 0.0051 and got[1:] == want[1:]
                checked += check(ok, f"scaling {hw} {title}: legend '{v}: N^{want[0]:.2f} "
                                     f"(N = {want[1]}..{want[2]})' (got {got})")
    check(checked == 2 * 4 * 4, f"scaling: 32 legend entries checked (got {checked})")
    row_fused = [t.get_text() for t in panels["edge: cycles"].get_legend().get_texts()
                 if t.get_text().startswith("row_fused")]
    check(len(row_fused) == 1 and row_fused[0].endswith("(N = 256..4K)"),
          f"scaling: edge row_fused, failed at 16K, is fitted over N = 256..4K ({row_fused})")
    # MACs of lra-text (2 layers, d_model 64, 2 heads x 32, FFN 128) at N = 1024, by hand: per
    # layer QKV 1024*64*192 = 12,582,912, QK^T and PV 2 heads * 1024*1024*32 = 67,108,864 each,
    # out 1024*64*64 = 4,194,304, FFN 2 * 1024*64*128 = 16,777,216: 167,772,160; two layers
    # 335,544,320 for flash, unfused and row_fused alike.
    macs = panels.get("edge: MACs")
    at_1k = {line.get_label().split(":")[0]: dict(zip(line.get_xdata(), line.get_ydata())).get(1024)
             for line in macs.get_lines()} if macs else {}
    check(all(at_1k.get(v) == 335544320 for v in ("flash", "unfused", "row_fused")),
          f"scaling: MACs panel at N = 1K is 335,544,320 for the exact variants (got {at_1k})")
    plt.close(fig)
    fig, _, _, _ = plot_scaling.build([RESULTS, "--panels", "macs", "--slope-points", "2"])
    texts = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
    check(len(texts) == 8 and all(t.endswith("(N = 4K..16K)") or t.startswith("row_fused")
                                  for t in texts)
          and [ax.get_title() for ax in fig.axes] == ["edge: MACs", "cloud: MACs"],
          f"scaling --panels macs --slope-points 2: MACs only, slopes over N = 4K..16K ({texts[:2]})")
    plt.close(fig)
    # A high-water line spanning 64 KiB .. 29 MiB under a 32 MiB capacity (cloud flash at N = 256
    # set to 65,536 B, file line 18): the y range holds the line and the dotted capacity (drawn
    # up to 1.6 x 32 MiB = 51.2 MiB) on a log axis, with no warning about a non-positive limit.
    wide = os.path.join(tmp, "results_wide_sram.csv")
    with_cell(RESULTS, 18, "sram_high_water_bytes", "65536", wide)
    check(csv_rows(wide)[16]["hardware"] == "preset:cloud" and csv_rows(wide)[16]["seq_len"] == "256",
          "wide fixture: line 18 is cloud at N = 256")
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, _, _, _ = plot_scaling.build([wide, "--panels", "sram"])
    sram = {ax.get_title(): ax for ax in fig.axes}.get("cloud: SRAM high-water mark")
    lo, hi = sram.get_ylim() if sram else (0, 0)
    check(sram is not None and sram.get_yscale() == "log" and 0 < lo <= 65536 and hi >= 1.6 * 33554432,
          f"scaling: a 64 KiB .. 29 MiB high-water line keeps a log y range from above 0 to the capacity "
          f"line (got {lo:.6g} .. {hi:.6g})")
    check(not caught, f"scaling: no warning drawing it (got {[str(w.message) for w in caught]})")
    plt.close(fig)

    # Timeline with report.json beside it. By hand: edge's DRAM peak is 57.11 B/cycle at 940 MHz
    # = 53.68 GB/s. The layers are the report's own (its input), which must tile the run: layer 0
    # from cycle 0, layer 1 from layer 0's end to the timeline's last cycle.
    with open(REPORT) as f:
        report = json.load(f)
    with open(TIMELINE, newline="") as f:
        last = int(list(csv.DictReader(f))[-1]["window_end_cycle"])
    layers = report["layers"]
    check(len(layers) == 2 and layers[0]["start_cycle"] == 0
          and layers[0]["end_cycle"] == layers[1]["start_cycle"]
          and layers[1]["end_cycle"] == last == report["cycles"],
          f"report.json's two layers tile the run, 0..{last} cycles")
    for argv, scale in (([TIMELINE], 1.0), ([TIMELINE, "--clock-mhz", "940"], 1 / 940)):
        fig, _ = plot_timeline.build(argv)
        what = "timeline" + (" --clock-mhz 940" if scale != 1.0 else "")
        axes = {ax.get_gid(): ax for ax in fig.axes if ax.get_gid()}
        check(sorted(axes) == ["busy", "dram", "phases", "sram"],
              f"{what}: panels phases, busy, dram, sram (got {sorted(axes)})")
        peak = by_gid(axes["dram"].get_lines(), "peak-bandwidth")
        check(len(peak) == 1 and abs(peak[0].get_ydata()[0] - 57.11 * 0.940) < 1e-6
              and peak[0].get_label() == "peak 53.7 GB/s",
              f"{what}: peak DRAM line at 57.11 B/cycle x 0.94 GHz = 53.68 GB/s "
              f"(got {[(p.get_ydata()[0], p.get_label()) for p in peak]})")
        boundary = layers[1]["start_cycle"] * scale
        for gid, ax in axes.items():
            xs = [line.get_xdata()[0] for line in by_gid(ax.get_lines(), "layer-boundary")]
            check(len(xs) == 1 and abs(xs[0] - boundary) < 1e-9,
                  f"{what}: {gid} panel marks layer 1's start at {boundary:g} (got {xs})")
        labels = [t.get_text() for t in by_gid(axes["phases"].texts, "layer-label")]
        check(labels == ["layer 0", "layer 1"], f"{what}: layers labelled (got {labels})")
        bars = {p.get_gid(): (p.get_x(), p.get_width())
                for p in by_gid(axes["phases"].patches, "op:")}
        want = {f"op:{l['layer']}:{name}": (op["start_cycle"] * scale,
                                             (op["end_cycle"] - op["start_cycle"]) * scale)
                for l in layers for name, op in l["ops"].items()}
        check(len(bars) == 16 and bars.keys() == want.keys()
              and all(abs(bars[k][0] - want[k][0]) < 1e-6 and abs(bars[k][1] - want[k][1]) < 1e-6
                      for k in want),
              f"{what}: a bar per op of each layer (2 x 8) from its first to last cycle")
        rows_shown = [t.get_text() for t in axes["phases"].get_yticklabels()][::-1]
        check(rows_shown[0] == "norm" and sorted(rows_shown) == sorted(layers[0]["ops"]),
              f"{what}: a row per op, norm (cycle 0) on top (got {rows_shown})")
        plt.close(fig)

    # Without a report: no ops panel, no layers; the peak only from --peak-GBps.
    alone = os.path.join(tmp, "alone")
    os.makedirs(alone, exist_ok=True)
    shutil.copy(TIMELINE, alone)
    for extra, peak_want in (([], []), (["--peak-GBps", "40"], [40.0])):
        fig, _ = plot_timeline.build([os.path.join(alone, "timeline.csv")] + extra)
        axes = {ax.get_gid(): ax for ax in fig.axes if ax.get_gid()}
        marks = sum(len(by_gid(ax.get_lines(), "layer-boundary")) for ax in fig.axes)
        peaks = [line.get_ydata()[0] for line in by_gid(axes["dram"].get_lines(), "peak-bandwidth")]
        check("phases" not in axes and marks == 0 and peaks == peak_want,
              f"timeline without report.json {' '.join(extra)}: no ops or layers, peak "
              f"{peak_want} (got {sorted(axes)}, {marks} marks, peak {peaks})")
        plt.close(fig)


def main():
    start = time.time()
    for f in (RESULTS, SRAM_SWEEP, TIMELINE):
        if not check(os.path.isfile(f), f"fixture {os.path.relpath(f, HERE)} exists"):
            return 1
    if importlib.util.find_spec("matplotlib") is None:
        print(f"{sys.executable} has no matplotlib: run this test with /usr/bin/python3 "
              "(Debian's python3-matplotlib)")
        return 1

    tmp = tempfile.mkdtemp(prefix="attnsim_plots_")
    out = lambda name: os.path.join(tmp, name)  # noqa: E731

    # results.csv as if the sweep had a second SRAM size: each point twice, 20 % slower at one.
    two_axes = out("results_two_axes.csv")
    with open(RESULTS, newline="") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    at = head.index("axis.variant") + 1
    cyc = head.index("cycles")
    doubled = [head[:at] + ["axis.bytes_per_bank"] + head[at:]]
    for r in rows[1:]:
        for bank, factor in (("32768", 1.0), ("65536", 1.2)):
            copy = list(r)
            if copy[cyc]:
                copy[cyc] = str(int(int(copy[cyc]) * factor))
            doubled.append(copy[:at] + [bank] + copy[at:])
    with open(two_axes, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(doubled)

    # Figures: (script, arguments, output, expected size in inches or None for a vector file)
    figures = [
        ("plot_scaling.py", [RESULTS, "-o", out("scaling.png")], out("scaling.png"),
         (4 * 5.2, 2 * 3.9 + 1.0)),  # 4 panels (cycles, MACs, DRAM, SRAM) by 2 hardware
        ("plot_scaling.py", [RESULTS, "--panels", "cycles,macs", "-o", out("scaling_2.png")],
         out("scaling_2.png"), (2 * 5.2, 2 * 3.9 + 1.0)),
        ("plot_scaling.py", [two_axes, "--attention-sram", "--hardware", "edge", "-o",
                             out("scaling_two_axes.svg")], out("scaling_two_axes.svg"), None),
        ("plot_pareto.py", [SRAM_SWEEP, "-o", out("pareto.png")], out("pareto.png"),
         (10.0, 6.5)),  # one panel
        ("plot_pareto.py", [RESULTS, "-o", out("pareto_results.png")],
         out("pareto_results.png"), (2 * 5.6 + 1.0, 2 * 4.6 + 1.2)),  # four N, 2 x 2 panels
        ("plot_pareto.py", [RESULTS, "--seq-len", "1024", "4096", "--x", "pes", "-o",
                            out("pareto_pes.pdf")], out("pareto_pes.pdf"), None),
        # report.json beside timeline.csv adds the ops panel: 8 ops, 0.12 in each + 0.35
        ("plot_timeline.py", [TIMELINE, "-o", out("timeline.png")], out("timeline.png"),
         (13.0, 9.5 + 0.12 * 8 + 0.35)),
        ("plot_timeline.py", [TIMELINE, "--no-report", "--peak-GBps", "53.7", "-o",
                              out("timeline_no_report.png")], out("timeline_no_report.png"),
         (13.0, 9.5)),
        ("plot_timeline.py", [TIMELINE, "--units", "lines", "--banks", "lines", "--clock-mhz",
                              "940", "--bins", "100", "--dpi", "60", "-o",
                              out("timeline_lines.png")], out("timeline_lines.png"),
         (13.0, 9.5 + 0.12 * 8 + 0.35, 60)),
        # 31 ok bars, 1 failed, 7 gaps between (hardware, N) groups
        ("plot_stalls.py", [RESULTS, "-o", out("stalls.png")], out("stalls.png"),
         (12.5, 0.34 * (32 + 0.6 * 7) + 2.2)),
        ("plot_stalls.py", [two_axes, "--seq-len", "4096", "--hardware", "edge", "--where",
                            "/sram/bytes_per_bank=65536", "--size", "10x5", "--dpi", "60", "-o",
                            out("stalls_edge.png")], out("stalls_edge.png"), (10, 5, 60)),
    ]

    bad_results = out("results_no_cycles.csv")
    without_column(RESULTS, "cycles", bad_results)
    bad_sram = out("sram_no_capacity.csv")
    without_column(SRAM_SWEEP, "sram_capacity_bytes", bad_sram)
    bad_stalls = out("results_no_stall_memory.csv")
    without_column(RESULTS, "stall_memory_cycles", bad_stalls)
    bad_timeline = out("timeline_no_array_busy.csv")
    without_column(TIMELINE, "array_busy", bad_timeline)
    no_banks = out("timeline_no_banks.csv")
    with open(TIMELINE, newline="") as f:
        rows = list(csv.reader(f))
    keep = [k for k, c in enumerate(rows[0]) if not c.startswith("bank")]
    with open(no_banks, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([[r[k] for k in keep] for r in rows])
    not_number = out("results_bad_cell.csv")
    with_cell(RESULTS, 3, "dram_bytes_read", "lots", not_number)
    # The fixture's report with other cycles (another run's), and with a layer's start a string.
    with open(REPORT) as f:
        report = json.load(f)
    wrong_run = out("report_other_run.json")
    with open(wrong_run, "w") as f:
        json.dump(dict(report, cycles=report["cycles"] + 4096), f)
    bad_report = out("report_bad_layer.json")
    broken = json.loads(json.dumps(report))
    broken["layers"][1]["start_cycle"] = "late"
    with open(bad_report, "w") as f:
        json.dump(broken, f)
    all_failed = out("results_all_failed.csv")
    with open(RESULTS, newline="") as f:
        rows = list(csv.reader(f))
    status = rows[0].index("status")
    with open(all_failed, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(
            [rows[0]] + [r[:status] + ["failed"] + r[status + 1:] for r in rows[1:]])

    # Refusals: (script, arguments, texts the message must contain)
    refusals = [
        ("plot_scaling.py", [bad_results], [bad_results, "'cycles'"]),
        ("plot_pareto.py", [bad_results], [bad_results, "'cycles'"]),
        ("plot_pareto.py", [bad_sram], [bad_sram, "'sram_capacity_bytes'"]),
        ("plot_stalls.py", [bad_stalls], [bad_stalls, "'stall_memory_cycles'"]),
        ("plot_timeline.py", [bad_timeline], [bad_timeline, "'array_busy'"]),
        ("plot_timeline.py", [no_banks], [no_banks, "'bank0_port_use'"]),
        ("plot_scaling.py", [not_number], [not_number, "line 3", "'dram_bytes_read'", "lots"]),
        ("plot_stalls.py", [all_failed], [all_failed, "no rows with status 'ok'"]),
        ("plot_scaling.py", [RESULTS, "--hardware", "tpu-v1"], [RESULTS, "tpu-v1", "edge"]),
        ("plot_scaling.py", [SRAM_SWEEP], [SRAM_SWEEP, "seq_len 4096", "two sequence lengths"]),
        ("plot_stalls.py", [RESULTS, "--where", "clock_mhz=940"],
         [RESULTS, "'axis.clock_mhz'"]),
        ("plot_pareto.py", [RESULTS, "--seq-len", "512"], [RESULTS, "512", "4096"]),
        ("plot_timeline.py", [out("missing.csv")], [out("missing.csv"), "cannot read"]),
        ("plot_stalls.py", [RESULTS, "-o", out("stalls.xyz")], ["stalls.xyz", ".png"]),
        ("plot_scaling.py", [RESULTS, "--panels", "cycles,flops"], ["--panels", "flops", "macs"]),
        ("plot_timeline.py", [TIMELINE, "--report", wrong_run],
         [wrong_run, "990,292", TIMELINE, "not the same run"]),
        ("plot_timeline.py", [TIMELINE, "--report", bad_report],
         [bad_report, "/layers/1/start_cycle", "expected a number"]),
    ]
    for _, args, _ in refusals:
        if "-o" not in args:  # should a refusal draw after all, not into the working directory
            args += ["-o", out("refused.png")]

    scripts = ["plot_scaling.py", "plot_pareto.py", "plot_timeline.py", "plot_stalls.py"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        fig_jobs = [pool.submit(run, s, *a) for s, a, _, _ in figures]
        ref_jobs = [pool.submit(run, s, *a) for s, a, _ in refusals]
        help_jobs = [pool.submit(run, s, "--help") for s in scripts]
        content_checks(tmp)  # in this process while the scripts run in theirs

        for (script, args, path, size), job in zip(figures, fig_jobs):
            rc, _, err = job.result()
            what = f"{script} {' '.join(os.path.basename(a) for a in args)}"
            if not check(rc == 0, f"{what}: exit 0 (got {rc}{': ' + err.strip() if err else ''})"):
                continue
            check(not err.strip(), f"{what}: nothing on stderr ({err.strip()[:200]})")
            exists = os.path.isfile(path) and os.path.getsize(path) > 1000
            if not check(exists, f"{what}: wrote a non-empty {os.path.basename(path)}"):
                continue
            if size is None:
                with open(path, "rb") as f:
                    head = f.read(400)
                kind = b"%PDF" if path.endswith(".pdf") else b"<svg"
                check(kind in head, f"{what}: {os.path.basename(path)} is a "
                                    f"{kind.decode().strip('%<')} file")
                continue
            dpi = size[2] if len(size) > 2 else DPI
            want = (size[0] * dpi, size[1] * dpi)
            got = png_size(path)
            check(got is not None and all(abs(g - w) <= 2 for g, w in zip(got, want)),
                  f"{what}: PNG of {round(want[0])}x{round(want[1])} pixels (got {got})")

        for (script, args, texts), job in zip(refusals, ref_jobs):
            rc, _, err = job.result()
            what = f"{script} {' '.join(os.path.basename(a) for a in args)}"
            check(rc == 2, f"{what}: refused with exit 2 (got {rc})")
            missing = [t for t in texts if t not in err]
            check(not missing and script in err,
                  f"{what}: message names {', '.join(texts)} (stderr: {err.strip()[:300]})")

        for script, job in zip(scripts, help_jobs):
            rc, text, _ = job.result()
            check(rc == 0 and "usage:" in text and "example:" in text and "--out" in text,
                  f"{script} --help: exit 0 with usage, --out and an example")

    if failures:
        print(f"{len(failures)} failure(s); {time.time() - start:.1f} s; files kept in {tmp}")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"all passed; {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
