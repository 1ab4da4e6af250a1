#!/usr/bin/env python3
"""Runs the plot scripts (scripts/plot_*.py) on the fixtures in tests/data/plots and checks that
every figure is drawn at the expected size, that --help works, and that an input file lacking a
column is refused with exit status 2 and a message naming the file and the column. Then it draws
the Pareto, scaling and timeline figures in this process (each script's build()) and checks what
they show against values derived here from the fixtures: every design point labelled with its
array size and SRAM, the Pareto front (found by brute force) labelled apart, no two labels
overlapping; each legend's slope (a least-squares fit done here) and the Ns it is fitted over;
the MACs panel; the timeline's peak DRAM bandwidth line, layer boundaries and op bars. The energy
figures (plot_energy.py) are checked on small tables written here whose energies follow laws
chosen by hand (energy_checks: every segment, total, share and slope known in advance).

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


# ---------------------------------------------------------------------------------------------
# Energy figures, on tables written here with energies chosen by hand

ENERGY_COLS = ["index", "point", "status", "error", "axis.variant", "axis.seq_len", "hardware", "model",
               "variant", "seq_len", "rows", "cols", "pes", "sram_capacity_bytes", "cycles", "time_us",
               "energy_table", "energy_total_pj", "energy_array_pj", "energy_sram_pj", "energy_dram_pj",
               "energy_leakage_pj", "area_mm2"]
ENERGY_NS = [1024, 4096, 16384]


def energy_parts(variant, n):
    """The components, pJ, by hand: unfused array N^2/2, SRAM N^2/4, DRAM N^2/4 (total N^2);
    flash array N^2/2, SRAM N^2/8, leakage N^2/8 (total 3 N^2 / 4); primal array 100 N, SRAM 50 N,
    DRAM 50 N (total 200 N). Log-log slopes: 2, 2 and 1 exactly."""
    return {"unfused": dict(array=n * n / 2, sram=n * n / 4, dram=n * n / 4, leakage=0),
            "flash": dict(array=n * n / 2, sram=n * n / 8, dram=0, leakage=n * n / 8),
            "primal": dict(array=100 * n, sram=50 * n, dram=50 * n, leakage=0)}[variant]


def write_energy_table(path, rows, extra_cols=()):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=ENERGY_COLS + list(extra_cols), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def energy_row(i, variant, n, hw="preset:big", **extra):
    parts = energy_parts(variant, n)
    r = {"index": i, "point": "p%d" % i, "status": "ok", "error": "", "axis.variant": variant,
         "axis.seq_len": n, "hardware": hw, "model": "preset:lra-text", "variant": variant,
         "seq_len": n, "rows": 16, "cols": 16, "pes": 256, "sram_capacity_bytes": 524288,
         "cycles": n, "time_us": n / 1000, "energy_table": "preset:45nm",
         "energy_total_pj": sum(parts.values()), "area_mm2": 20}
    r.update({"energy_%s_pj" % k: v for k, v in parts.items()})
    r.update(extra)
    return r


def energy_checks(tmp):
    sys.path.insert(0, SCRIPTS)
    import attnsim_plots as ap
    import attnsim_results as res
    import plot_energy
    import plot_pareto
    import plot_scaling
    plt = ap.pyplot()

    table = os.path.join(tmp, "energy.csv")
    write_energy_table(table, [energy_row(k, v, n) for k, (v, n) in
                               enumerate((v, n) for v in ("unfused", "flash", "primal") for n in ENERGY_NS)])

    # Breakdown at the default N: the largest every variant simulated, 16384 (16K). Each segment's
    # height is its component, its bottom the components below it in the table's order (array,
    # sram, dram, leakage); the share row divides by the total. Unfused at 16K, by hand: array
    # 16384^2 / 2 = 134,217,728 pJ from 0; sram 67,108,864 from 134,217,728; total 268,435,456 pJ
    # = 268 uJ; sram's share 1/4 from 1/2.
    fig, _, panels = plot_energy.build_breakdown(["breakdown", table])
    check([(hw, n) for hw, n, _ in panels] == [("big", 16384)],
          f"energy breakdown: one panel, big at N = 16K, the largest N of every variant (got "
          f"{[(hw, n) for hw, n, _ in panels]})")
    top, bottom = fig.axes[0], fig.axes[1]
    seg = {p.get_gid(): (p.get_y(), p.get_height()) for p in top.patches if p.get_gid()}
    want = {}
    for v in ("flash", "unfused", "primal"):
        base = 0.0
        for name, value in energy_parts(v, 16384).items():
            want[f"segment:{v}:{name}"] = (base, value)
            base += value
    check(seg.keys() == want.keys() and all(abs(seg[k][0] - want[k][0]) < 1e-6
                                            and abs(seg[k][1] - want[k][1]) < 1e-6 for k in want),
          f"energy breakdown: 12 segments (3 variants x array, sram, dram, leakage), each stacked on "
          f"the ones before ({sorted(set(seg) ^ set(want))[:3]})")
    check(want["segment:unfused:sram"] == (134217728.0, 67108864.0),
          "energy breakdown: unfused's SRAM segment at 16K is 67,108,864 pJ on 134,217,728 (by hand)")
    shares = [(p.get_y(), p.get_height()) for p in bottom.patches]
    check(len(shares) == 12 and (0.5, 0.25) in [(round(y, 9), round(h, 9)) for y, h in shares],
          f"energy breakdown: share row, unfused's SRAM 1/4 from 1/2 (got {shares[:4]})")
    totals = {t.get_gid(): t.get_text() for t in top.texts if (t.get_gid() or "").startswith("total:")}
    check(totals == {"total:unfused": "268 uJ", "total:flash": "201 uJ", "total:primal": "3.28 uJ"},
          f"energy breakdown: totals 16384^2 pJ = 268 uJ, 3/4 of it = 201 uJ, 200 x 16384 pJ = "
          f"3.28 uJ (got {totals})")
    plt.close(fig)

    # Finer DRAM components beside their sum: energy_dram_pj = background + command, so the bars
    # show the two parts instead of dram (a component the table adds needs no change here). And
    # one row whose components fall 1000 pJ short of its total: an 'unaccounted' segment of 1000.
    finer = os.path.join(tmp, "energy_finer.csv")
    rows = []
    for k, v in enumerate(("unfused", "primal")):
        r = energy_row(k, v, 1024)
        d = r["energy_dram_pj"]
        r.update(energy_dram_background_pj=d / 4, energy_dram_command_pj=d - d / 4)
        rows.append(r)
    rows[1]["energy_total_pj"] += 1000
    write_energy_table(finer, rows, ["energy_dram_background_pj", "energy_dram_command_pj"])
    check([n for n, _ in res.energy_components(ENERGY_COLS + ["energy_dram_background_pj",
                                                              "energy_dram_command_pj"], rows)]
          == ["array", "sram", "leakage", "dram_background", "dram_command"],
          "energy_components: dram gives way to dram_background and dram_command, which add up to it")
    fig, _, panels = plot_energy.build_breakdown(["breakdown", finer])
    seg = {p.get_gid(): p.get_height() for p in fig.axes[0].patches if p.get_gid()}
    # unfused at 1K: DRAM 1024^2 / 4 = 262,144 pJ: background 65,536, command 196,608
    check(seg.get("segment:unfused:dram_background") == 65536 and seg.get("segment:unfused:dram_command") == 196608
          and "segment:unfused:dram" not in seg and seg.get("segment:primal:unaccounted") == 1000
          and "segment:unfused:unaccounted" not in seg,
          f"energy breakdown: DRAM drawn as background 65,536 + command 196,608 pJ, primal's 1000 pJ "
          f"unaccounted (got {sorted(seg.items())[:6]})")
    plt.close(fig)

    # Energy against N: slopes 2.00, 2.00, 1.00 over N = 1K..16K (the laws above).
    fig, _, slopes, _ = plot_scaling.build([table, "--panels", "energy"])
    legend = sorted(t.get_text() for t in fig.axes[0].get_legend().get_texts())
    check(legend == ["flash: $N^{2.00}$ (N = 1K..16K)", "primal: $N^{1.00}$ (N = 1K..16K)",
                     "unfused: $N^{2.00}$ (N = 1K..16K)"] and fig.axes[0].get_title() == "big: energy",
          f"energy scaling: legends give slopes 2, 1, 2 over N = 1K..16K (got {legend})")
    plt.close(fig)

    # Pareto of cycles against energy and against area, at one N. Points (by hand), design,
    # energy pJ, area mm^2, cycles: A 8x8 1e6 10 400; B 16x16 2e6 12 100; C 32x32 3e6 20 120;
    # D 64x64 5e5 30 300. Energy front: D (5e5, 300) and B (2e6, 100); A (1e6, 400) is beaten by
    # D (less energy and fewer cycles), C (3e6, 120) by B. Area front: A (10, 400) and B (12, 100);
    # C and D are beaten by B.
    design = os.path.join(tmp, "energy_design.csv")
    pts = [("8", 1e6, 10, 400), ("16", 2e6, 12, 100), ("32", 3e6, 20, 120), ("64", 5e5, 30, 300)]
    write_energy_table(design, [energy_row(k, "flash", 4096, rows=s, cols=s, pes=int(s) ** 2, cycles=c,
                                           energy_total_pj=e, area_mm2=a)
                                for k, (s, e, a, c) in enumerate(pts)])
    for x, front in (("energy", [(5e5, 300), (2e6, 100)]), ("area", [(10, 400), (12, 100)])):
        fig, _ = plot_pareto.build([design, "--x", x])
        got = sorted((a.xy[0], a.xy[1]) for a in by_gid(fig.axes[0].texts, "pareto-front"))
        labels = sorted(a.get_text().split("\n")[0] for a in by_gid(fig.axes[0].texts, "pareto-front")
                        + by_gid(fig.axes[0].texts, "design"))
        check(got == sorted(front) and labels == ["16x16, 512 KiB", "32x32, 512 KiB", "64x64, 512 KiB",
                                                   "8x8, 512 KiB"],
              f"energy pareto --x {x}: front {front}, every design labelled (got {got}, {labels})")
        plt.close(fig)
    return table


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

    scripts = ["plot_scaling.py", "plot_pareto.py", "plot_timeline.py", "plot_stalls.py", "plot_energy.py"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        fig_jobs = [pool.submit(run, s, *a) for s, a, _, _ in figures]
        ref_jobs = [pool.submit(run, s, *a) for s, a, _ in refusals]
        help_jobs = [pool.submit(run, s, "--help") for s in scripts]
        content_checks(tmp)  # in this process while the scripts run in theirs
        energy_table = energy_checks(tmp)
        # plot_energy.py's three figures drawn by the script (scaling and pareto through
        # plot_scaling.py and plot_pareto.py), and a table without energy columns refused
        energy_runs = [
            (pool.submit(run, "plot_energy.py", "breakdown", energy_table, "--seq-len", "1024", "16384",
                         "-o", out("energy_breakdown.png")), out("energy_breakdown.png")),
            (pool.submit(run, "plot_energy.py", "scaling", energy_table, "-o", out("energy_scaling.png")),
             out("energy_scaling.png")),
            (pool.submit(run, "plot_energy.py", "pareto", energy_table, "--x", "area", "-o",
                         out("energy_pareto.svg")), out("energy_pareto.svg")),
        ]
        no_energy = pool.submit(run, "plot_energy.py", "breakdown", RESULTS, "-o", out("refused.png"))

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

        for job, path in energy_runs:
            rc, _, err = job.result()
            check(rc == 0 and not err.strip() and os.path.isfile(path) and os.path.getsize(path) > 1000,
                  f"plot_energy.py {os.path.basename(path)}: exit 0, nothing on stderr, a non-empty file "
                  f"(got {rc}: {err.strip()[:200]})")
        rc, _, err = no_energy.result()
        check(rc == 2 and RESULTS in err and "'energy_total_pj'" in err,
              f"plot_energy.py breakdown on a table without energy columns: exit 2 naming the file "
              f"({rc}: {err.strip()[:200]})")

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
