#!/usr/bin/env python3
"""The decode scripts on inputs written here, every figure known in advance.

1. scripts/decode_summary.py on a table of decode steps written here, whose times and memory
follow laws chosen by hand so that every figure of the section is known in advance:

  hardware edge, contexts c = 256, 512, 1024, 2048, batch b = 1 and 4:
    flash          time 1 ms + b x c x 1 us; KV cache per sequence c x 12288 B (GPT: 6 layers x
                   2 x 512 x 2 B per token)
    primal_causal  time 1.4 ms; state 12288 B per sequence
    lowrank_linear time 3.5 ms; state 122880 B per sequence
  batch 1: flash 1.256, 1.512, 2.024, 3.048 ms. primal_causal (1.4) is faster from 512 on, not at
    256; lowrank_linear (3.5) never, up to 2K; at 2K flash / primal = 3.048 / 1.4 = 2.18x.
  batch 4: flash 2.024, 3.048, 5.096, 9.192 ms. primal_causal faster at every context (from 256);
    lowrank_linear from 1K on, not at 512; at 2K flash / lowrank = 9.192 / 3.5 = 2.63x.
  memory at 2K: cache 2048 x 12288 = 25,165,824 B = "25.2 MB"; primal saves 25,153,536 B
    ("25.2 MB", 2,048x less), lowrank saves 25,042,944 B ("25 MB", 204.8x: "205x less"); a batch
    of 4 holds 100,663,296 B = "101 MB" of cache, 49,152 B ("49.2 kB") of primal state.
Also: a multi-step report.json (prefill 1000, steps at 1000..1003) read through --csv gives the
cache at 1003 tokens as after_prefill + 3 x per_token; a table without a vanilla variant and one
lacking a column exit with status 2.

2. scripts/plot_decode.py on generation reports written here (report.json files shaped as
`attnsim run --generate ... --decode-only --out DIR` writes them) whose figures follow laws chosen
by hand, so that every line, slope and marker is known in advance:

  hardware edge and cloud, batch b = 1 and 4, contexts c = 256 .. 2048 (one report each, one step):
    flash          step time 1 ms + b x c x 1 us (cloud: half); DRAM bytes: weights 4,000,000,
                   KV cache b x c x 1000, activations b x 10,000
    primal_causal  step time 1.4 ms (cloud: 0.7); weights 3,900,000, state b x 500, activations
                   b x 12,000
  The legends' slopes are least-squares fits of ln y on ln c over the three largest contexts (512,
  1024, 2048), done here by hand; the cache bytes are proportional to c (slope exactly 1), the state
  and the weights constant (slope 0). Throughput at c: b / step time, e.g. edge flash at 2048, batch 4:
  4 / (1 + 8.192) ms = 435.2 tokens/s.
  One more report (hardware "long") of four steps at contexts 4096..4099, 4096 and 4099 simulated:
  its line joins all four, its markers only the two simulated.
Also: --help, the three figures written as PNG, and bad input (a folder without reports, a report
without a generation section) refused with exit status 2 and a message naming the file.

Run by ctest with /usr/bin/python3 (Debian's matplotlib); by hand:
  /usr/bin/python3 tests/test_decode_scripts.py
"""
import csv
import json
import math
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(os.path.dirname(HERE), "scripts")
SCRIPT = os.path.join(SCRIPTS, "decode_summary.py")
sys.path.insert(0, SCRIPTS)
import attnsim_results as res  # noqa: E402  (only for the column names)
from script_checks import check, finish, run_script  # noqa: E402  (tests/, beside this file)

CONTEXTS = (256, 512, 1024, 2048)
TIME = {"flash": lambda b, c: 1e-3 + b * c * 1e-6, "primal_causal": lambda b, c: 1.4e-3,
        "lowrank_linear": lambda b, c: 3.5e-3}
STATE = {"flash": lambda c: c * 12288, "primal_causal": lambda c: 12288, "lowrank_linear": lambda c: 122880}


def run_summary(*args):
    return run_script(SCRIPT, *args)


def write_table(path, variants=("flash", "primal_causal", "lowrank_linear"), drop=None):
    cols = [c for c in res.DECODE_COLUMNS if c != drop]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        for v in variants:
            for b in (1, 4):
                for c in (256, 512, 1024, 2048):
                    state = STATE[v](c)
                    w.writerow({"hardware": "edge", "variant": v, "batch": b, "context": c, "simulated": "true",
                                "time_s": TIME[v](b, c), "dram_weights_bytes": 1e6, "dram_state_bytes": b * state,
                                "dram_activation_bytes": 1e4, "dram_total_bytes": 1e6 + b * state + 1e4,
                                "binding": "weights bandwidth" if v != "flash" else "cache bandwidth",
                                "state": "kv cache" if v == "flash" else "fixed-size state",
                                "state_bytes_per_sequence": state, "prefill_simulated": "false", "report": "x"})


def row_of(text, *cells):
    """The markdown table row that starts with these cells."""
    head = "| " + " | ".join(cells) + " |"
    return next((l for l in text.splitlines() if l.startswith(head)), "")


def step_time(hw, variant, b, c):
    t = 1e-3 + b * c * 1e-6 if variant == "flash" else 1.4e-3
    return t / 2 if hw == "cloud" else t


def dram(variant, b, c):
    if variant == "flash":
        return {"weights": 4000000, "state": b * c * 1000, "activations": b * 10000}
    return {"weights": 3900000, "state": b * 500, "activations": b * 12000}


def write_report(path, hw, variant, b, contexts, simulated):
    steps = []
    for i, c in enumerate(contexts):
        d = dram(variant, b, c)
        d["total"] = sum(d.values())
        steps.append({"step": i + 1, "context": c, "time_s": step_time(hw, variant, b, c), "dram_bytes": d,
                      "simulated": c in simulated, "binding": "weights bandwidth", "cycles": 1})
    report = {"hardware": {"source": "preset:" + hw}, "prefill": {"simulated": False},
              "model": {"defaults": {"attention": {"variant": variant}, "batch": b}, "layers": [{"repeat": 6}]},
              "generation": {"batch": b, "prefill_tokens": contexts[0], "ttft_s": None,
                             "state": "kv cache" if variant == "flash" else "fixed-size state",
                             "state_bytes_per_sequence": {"after_prefill": 1, "per_token": 0}, "steps": steps}}
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "report.json"), "w") as f:
        json.dump(report, f)


def lsq_slope(pairs):
    """Least-squares slope of ln y on ln c, written out (not the script's code)."""
    xs = [math.log(c) for c, _ in pairs]
    ys = [math.log(y) for _, y in pairs]
    n = len(xs)
    return (n * sum(x * y for x, y in zip(xs, ys)) - sum(xs) * sum(ys)) / (n * sum(x * x for x in xs) - sum(xs) ** 2)


def legend_texts(fig):
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def line(fig, gid):
    found = [l for ax in fig.axes for l in ax.get_lines() if l.get_gid() == gid]
    return found[0] if found else None


def run_plot(*args):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    env.setdefault("MPLCONFIGDIR", tempfile.gettempdir())
    return run_script(os.path.join(SCRIPTS, "plot_decode.py"), *args, env=env, timeout=120)


def summary_checks():
    tmp = tempfile.mkdtemp(prefix="attnsim_decode_summary_")
    try:
        table = os.path.join(tmp, "steps.csv")
        write_table(table)
        code, out, err = run_summary(table)
        check(code == 0, "the section is written (exit %d, %s)" % (code, err.strip()))
        r = row_of(out, "edge", "1", "primal_causal")
        check("| 512 (not at 256) |" in r, "batch 1: primal_causal faster from 512, not at 256: " + r)
        check("| 1.4 | 3.048 | 2.18x |" in r, "batch 1: at 2K 1.4 ms against 3.048 ms, 2.18x: " + r)
        r = row_of(out, "edge", "1", "lowrank_linear")
        check("| never up to 2K |" in r, "batch 1: lowrank_linear never faster up to 2K: " + r)
        r = row_of(out, "edge", "4", "primal_causal")
        check("| 256 (every context measured, 256..2K) |" in r, "batch 4: primal_causal faster everywhere: " + r)
        r = row_of(out, "edge", "4", "lowrank_linear")
        check("| 1K (not at 512) |" in r and "| 3.5 | 9.192 | 2.63x |" in r,
              "batch 4: lowrank_linear faster from 1K, 2.63x at 2K: " + r)
        check("| weights bandwidth; flash: cache bandwidth |" in r,
              "the binding resources at the largest context: " + r)
        r = row_of(out, "2K")
        check(r == "| 2K | 25.2 MB | 12.3 kB | 25.2 MB (2,048x less) | 123 kB | 25 MB (205x less) |",
              "memory per sequence at 2K: " + r)
        check("a batch of 4 holds 101 MB of KV cache (flash)" in out and "primal_causal 49.2 kB" in out,
              "the batch's memory at the largest context")
        check("Weights streamed from DRAM per step (any context): flash 1 MB, primal_causal 1 MB, "
              "lowrank_linear 1 MB." in out, "the weights per step")
        check("24 decode steps, every one simulated exactly" in out,
              "the steps counted")

        # A multi-step report.json through --csv: the cache at each step's context.
        run_dir = os.path.join(tmp, "runs", "one")
        os.makedirs(run_dir)
        steps = [{"context": c, "time_s": 1e-3, "simulated": c in (1000, 1003), "binding": "compute",
                  "dram_bytes": {"weights": 1, "state": 2, "activations": 3, "total": 6}} for c in range(1000, 1004)]
        report = {"hardware": {"source": "preset:edge"},
                  "model": {"defaults": {"attention": {"variant": "flash"}}, "layers": [{"repeat": 6}]},
                  "generation": {"batch": 2, "prefill_tokens": 1000, "ttft_s": None, "state": "kv cache",
                                 "state_bytes_per_sequence": {"after_prefill": 12288000, "per_token": 12288},
                                 "steps": steps}}
        with open(os.path.join(run_dir, "report.json"), "w") as f:
            json.dump(report, f)
        other = os.path.join(tmp, "runs", "two")
        os.makedirs(other)
        report["model"]["defaults"]["attention"] = {"variant": "primal_causal"}
        report["generation"]["state_bytes_per_sequence"] = {"after_prefill": 12288, "per_token": 0}
        with open(os.path.join(other, "report.json"), "w") as f:
            json.dump(report, f)
        out_csv = os.path.join(tmp, "out.csv")
        code, out, err = run_summary(os.path.join(tmp, "runs"), "--csv", out_csv)
        check(code == 0, "run folders are read (exit %d, %s)" % (code, err.strip()))
        with open(out_csv, newline="") as f:
            rows = list(csv.DictReader(f))
        flash = {int(r["context"]): r for r in rows if r["variant"] == "flash"}
        check(len(rows) == 8 and float(flash[1003]["state_bytes_per_sequence"]) == 12288000 + 3 * 12288,
              "the cache at context 1003: 12,288,000 + 3 x 12,288 B")
        check(flash[1001]["simulated"] == "false" and flash[1003]["simulated"] == "true"
              and flash[1000]["prefill_simulated"] == "false", "simulated and prefill flags kept")
        check("8 decode steps, 4 of them simulated" in out and "no prefill simulated" in out,
              "the section says which steps were simulated and that the prefill was not")

        # Bad input: exit status 2 and a message naming the problem.
        lowrank_only = os.path.join(tmp, "lowrank.csv")
        write_table(lowrank_only, variants=("primal_causal",))
        code, _, err = run_summary(lowrank_only)
        check(code == 2 and "no vanilla variant" in err, "no vanilla variant: exit 2 (%d, %s)" % (code, err.strip()))
        no_time = os.path.join(tmp, "no_time.csv")
        write_table(no_time, drop="time_s")
        code, _, err = run_summary(no_time)
        check(code == 2 and "missing columns time_s" in err and "no_time.csv" in err,
              "a missing column: exit 2 naming file and column (%d, %s)" % (code, err.strip()))
        code, _, err = run_summary(os.path.join(tmp, "nowhere"))
        check(code == 2 and "no such file or folder" in err, "a missing input: exit 2")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def plot_checks():
    import plot_decode
    tmp = tempfile.mkdtemp(prefix="attnsim_plot_decode_")
    try:
        runs = os.path.join(tmp, "runs")
        for hw in ("edge", "cloud"):
            for v in ("flash", "primal_causal"):
                for b in (1, 4):
                    for c in CONTEXTS:
                        write_report(os.path.join(runs, f"{hw}-{v}-b{b}-c{c}"), hw, v, b, [c], {c})
        long_run = os.path.join(tmp, "long")
        write_report(long_run, "long", "flash", 1, [4096, 4097, 4098, 4099], {4096, 4099})

        # Latency: a panel per hardware and batch, slopes in the legends.
        fig, _, slopes = plot_decode.build(["latency", runs])
        check(len(fig.axes) == 4, "latency: 2 hardware x 2 batches = 4 panels (got %d)" % len(fig.axes))
        for hw in ("edge", "cloud"):
            for b in (1, 4):
                want = lsq_slope([(c, step_time(hw, "flash", b, c)) for c in CONTEXTS[1:]])
                got = [s for s in slopes if s[:2] == (hw, b) and s[3] == "flash"]
                check(len(got) == 1 and abs(got[0][4][0] - want) < 1e-9 and got[0][4][1:] == (512, 2048),
                      f"latency {hw} batch {b}: flash slope {want:.4f} over c = 512..2048")
                l = line(fig, f"latency:{hw}:{b}:time per token:flash")
                check(l is not None and list(l.get_xdata()) == list(CONTEXTS) and all(
                    abs(y - step_time(hw, "flash", b, c) * 1e3) < 1e-12 for c, y in zip(CONTEXTS, l.get_ydata())),
                    f"latency {hw} batch {b}: the flash line is the step time in ms")
        want = f"flash: $c^{{{lsq_slope([(c, step_time('edge', 'flash', 4, c)) for c in CONTEXTS[1:]]):.2f}}}$ (c = 512..2K)"
        check(want in legend_texts(fig), "the legend reads " + want)
        check("primal_causal: $c^{0.00}$ (c = 512..2K)" in legend_texts(fig), "primal_causal's slope 0 in the legend")

        # Bytes: weights, cache or state, activations; the cache slope exactly 1, the state's 0.
        fig, _, slopes = plot_decode.build(["bytes", runs, "--hardware", "edge"])
        check(len(fig.axes) == 2 * 3, "bytes on edge: 2 batches x 3 components = 6 panels (got %d)" % len(fig.axes))
        by = {(s[1], s[2], s[3]): s[4][0] for s in slopes}
        check(abs(by[(4, "KV cache or state", "flash")] - 1) < 1e-9, "the KV cache bytes: slope 1")
        check(abs(by[(4, "KV cache or state", "primal_causal")]) < 1e-9 and abs(by[(1, "weights", "flash")]) < 1e-9,
              "the state's and the weights' bytes: slope 0")
        l = line(fig, "bytes:edge:4:activations:primal_causal")
        check(l is not None and list(l.get_ydata()) == [48000.0] * 4, "activations of primal_causal, batch 4: 48,000 B")

        # Throughput against the batch at the smallest and largest context.
        fig, _, _ = plot_decode.build(["throughput", runs])
        l = line(fig, "throughput:edge:flash:2048")
        check(l is not None and list(l.get_xdata()) == [1, 4]
              and abs(l.get_ydata()[1] - 4 / (1e-3 + 4 * 2048e-6)) < 1e-9,
              "edge flash at 2K: 4 / 9.192 ms = %.1f tokens/s at batch 4" % (4 / (1e-3 + 4 * 2048e-6)))
        check(line(fig, "throughput:cloud:primal_causal:256") is not None
              and line(fig, "throughput:edge:flash:1024") is None, "default contexts: 256 and 2K")

        # A report of several steps: a line through all of them, markers on the simulated ones.
        fig, _, _ = plot_decode.build(["latency", long_run])
        l, m = line(fig, "latency:long:1:time per token:flash"), line(fig, "latency:long:1:time per token:flash:simulated")
        check(l is not None and list(l.get_xdata()) == [4096, 4097, 4098, 4099], "the line joins every step")
        check(m is not None and list(m.get_xdata()) == [4096, 4099], "markers on the simulated steps only")

        # The command line: --help, the three figures, bad input.
        code, out, _ = run_plot("--help")
        check(code == 0 and "throughput" in out, "--help")
        for fig_name in ("latency", "bytes", "throughput"):
            png = os.path.join(tmp, fig_name + ".png")
            code, _, err = run_plot(fig_name, runs, long_run, "-o", png)
            with open(png, "rb") as f:
                head = f.read(8) if code == 0 else b""
            check(code == 0 and head == b"\x89PNG\r\n\x1a\n", f"{fig_name}: a PNG is written ({err.strip()})")
        empty = os.path.join(tmp, "empty")
        os.makedirs(empty)
        code, _, err = run_plot("latency", empty)
        check(code == 2 and "empty: no report.json" in err, "a folder without reports: exit 2 (%s)" % err.strip())
        bare = os.path.join(tmp, "bare", "report.json")
        os.makedirs(os.path.dirname(bare))
        with open(bare, "w") as f:
            json.dump({"cycles": 1}, f)
        code, _, err = run_plot("bytes", bare)
        check(code == 2 and "bare/report.json: /generation: missing" in err,
              "a report without generation: exit 2 naming the file (%s)" % err.strip())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    summary_checks()
    plot_checks()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
