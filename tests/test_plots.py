#!/usr/bin/env python3
"""Runs the plot scripts (scripts/plot_*.py) on the fixtures in tests/data/plots and checks that
every figure is drawn at the expected size, that --help works, and that an input file lacking a
column is refused with exit status 2 and a message naming the file and the column.

Run by ctest with /usr/bin/python3 (the interpreter with Debian's matplotlib); by hand:
  /usr/bin/python3 tests/test_plots.py

Fixtures (tests/data/plots, README.md there tells how they were made): results.csv, an
`attnsim sweep` of lra-text over hardware (edge, cloud), N (256 .. 16384) and variant, with one
failed point; sram_sweep.csv, a sweep of lra-text at N = 4096 on edge over variant, SRAM size
and array size; timeline.csv, `attnsim run --trace` of lra-text, unfused, N = 1024 on edge in
243 windows of 4096 cycles (16 SRAM banks, one DRAM channel).
"""

import concurrent.futures
import csv
import importlib.util
import os
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
         (3 * 5.2, 2 * 3.9 + 1.0)),  # 3 panels by 2 hardware
        ("plot_scaling.py", [two_axes, "--attention-sram", "--hardware", "edge", "-o",
                             out("scaling_two_axes.svg")], out("scaling_two_axes.svg"), None),
        ("plot_pareto.py", [SRAM_SWEEP, "-o", out("pareto.png")], out("pareto.png"),
         (10.0, 6.5)),  # one panel
        ("plot_pareto.py", [RESULTS, "-o", out("pareto_results.png")],
         out("pareto_results.png"), (2 * 5.6 + 1.0, 2 * 4.6 + 1.2)),  # four N, 2 x 2 panels
        ("plot_pareto.py", [RESULTS, "--seq-len", "1024", "4096", "--x", "pes", "-o",
                            out("pareto_pes.pdf")], out("pareto_pes.pdf"), None),
        ("plot_timeline.py", [TIMELINE, "-o", out("timeline.png")], out("timeline.png"),
         (13.0, 9.5)),
        ("plot_timeline.py", [TIMELINE, "--units", "lines", "--banks", "lines", "--clock-mhz",
                              "940", "--bins", "100", "--dpi", "60", "-o",
                              out("timeline_lines.png")], out("timeline_lines.png"),
         (13.0, 9.5, 60)),
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
    ]
    for _, args, _ in refusals:
        if "-o" not in args:  # should a refusal draw after all, not into the working directory
            args += ["-o", out("refused.png")]

    scripts = ["plot_scaling.py", "plot_pareto.py", "plot_timeline.py", "plot_stalls.py"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        fig_jobs = [pool.submit(run, s, *a) for s, a, _, _ in figures]
        ref_jobs = [pool.submit(run, s, *a) for s, a, _ in refusals]
        help_jobs = [pool.submit(run, s, "--help") for s in scripts]

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
