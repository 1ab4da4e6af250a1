"""Shared code of the scripts that read an `attnsim sweep` results table (claims_table.py,
sweep_summary.py, and the plot scripts through attnsim_plots.py): reading the rows, keeping the
points that simulated, naming hardware, and log-log slope fits. Python standard library only (no
matplotlib), so the markdown scripts run on any python3.

The scripts import this module from their own directory.
"""

import csv
import json
import math
import os
import sys

EXIT_INPUT = 2  # the status argparse uses for bad command lines; a bad input file gets it too


def fail(prog, msg):
    """"<prog>: <msg>" on stderr and exit status 2."""
    print(prog + ": " + msg, file=sys.stderr)
    sys.exit(EXIT_INPUT)


def read_rows(prog, path):
    """The rows of a results table (dicts keyed by column); fails naming the file if it cannot be
    read or has no rows."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        fail(prog, "%s: cannot read: %s" % (path, e.strerror))
    if not rows:
        fail(prog, "%s: no points" % path)
    return rows


def split_by_status(rows):
    """(the rows whose point simulated, the others): status "ok"; rows without a status column,
    such as `attnsim run`'s report.csv, all simulated."""
    ok, other = [], []
    for r in rows:
        (ok if (r.get("status", "ok") or "").strip() == "ok" else other).append(r)
    return ok, other


def variant_column(row):
    """axis.variant ("primal:rank=96") when the sweep varied the variant, else the report's variant."""
    return "axis.variant" if "axis.variant" in row else "variant"


def short_hardware(name):
    """"preset:edge" -> "edge"; "configs/my_chip.json" -> "my_chip"."""
    name = name.strip()
    if name.startswith("preset:"):
        return name[len("preset:"):]
    base = os.path.basename(name.rstrip("/\\")) or name
    if base.lower().endswith(".json"):
        base = base[:-5]
    return base


def loglog_fit(points, count):
    """Least-squares slope of ln y against ln N over the `count` largest Ns of `points` [(N, y)]
    with N and y above 0: (slope, first N fitted, last N fitted); None with fewer than two such
    points (or a single N)."""
    pts = [(n, y) for n, y in sorted(points) if n > 0 and y > 0][-count:]
    if len(pts) < 2:
        return None
    xs = [math.log(n) for n, _ in pts]
    ys = [math.log(y) for _, y in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx, pts[0][0], pts[-1][0]


def read_area(prog, path):
    """The output of `attnsim area --json`: its total, softmax and dram_phy areas must be numbers."""
    try:
        with open(path) as f:
            a = json.load(f)
    except OSError as e:
        fail(prog, "%s: cannot read: %s" % (path, e.strerror))
    except ValueError as e:
        fail(prog, "%s: not JSON: %s" % (path, e))
    for k in ("total", "softmax", "dram_phy"):
        if not isinstance(a.get(k), (int, float)):
            fail(prog, "%s: /%s: expected a number (the output of attnsim area --json)" % (path, k))
    return a


def write_text(path, text):
    """Writes `text` to the file `path`, or to standard output when path is None or empty."""
    if path:
        with open(path, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def energy_components(header, rows=()):
    """The energy component columns of a results table, in the table's order: every
    energy_<name>_pj column but energy_total_pj, as [(name, column)]. A column that is the sum of
    finer ones (energy_dram_pj beside energy_dram_background_pj and energy_dram_command_pj) gives
    way to them when every row of `rows` shows it is their sum, so that the components returned
    add up to the total once. Empty when the table has no energy columns."""
    cols = [c for c in header if c.startswith("energy_") and c.endswith("_pj") and c != "energy_total_pj"]
    names = [c[len("energy_"):-len("_pj")] for c in cols]

    def value(row, name):
        try:
            return float(row.get("energy_%s_pj" % name, ""))
        except ValueError:
            return None

    coarse = set()
    for name in names:
        finer = [n for n in names if n.startswith(name + "_")]
        if not finer:
            continue
        sums = True
        for r in rows:
            whole, parts = value(r, name), [value(r, n) for n in finer]
            if whole is None or None in parts:
                continue
            if abs(whole - sum(parts)) > 1e-9 * max(abs(whole), 1.0) + 1e-6:
                sums = False
                break
        if sums:
            coarse.add(name)
    return [(n, c) for n, c in zip(names, cols) if n not in coarse]


def fmt_energy_pj(pj, digits=3):
    """An energy given in picojoules, in joules with an SI prefix: 3.95e9 -> "3.95 mJ",
    250 -> "250 pJ", 999.96e3 -> "1 uJ"."""
    units = (("pJ", 1.0), ("nJ", 1e3), ("uJ", 1e6), ("mJ", 1e9), ("J", 1e12))
    for unit, scale in units:
        value = pj / scale
        text = "%.*g" % (digits, value)
        if "e" in text and abs(value) < 1e4:  # "5e+02" with 2 digits: write 500
            text = "%.0f" % value
        if abs(float(text)) < 1000 or unit == "J":
            return "%s %s" % (text, unit)


# ---------------------------------------------------------------------------------------------
# Decode steps (attnsim run --generate: report.json's "generation" section)

# The columns of a table of decode steps, one row per (hardware, variant, batch, context):
# decode_summary.py --csv writes it and every decode script reads it back.
DECODE_COLUMNS = ["hardware", "variant", "batch", "context", "simulated", "time_s",
                  "dram_weights_bytes", "dram_state_bytes", "dram_activation_bytes",
                  "dram_total_bytes", "binding", "state", "state_bytes_per_sequence",
                  "prefill_simulated", "report"]
VANILLA_VARIANTS = ("flash", "row_fused", "unfused")  # decode alike: a KV cache read each step


def model_variant(model):
    """The attention variant of a resolved model document (report.json's "model"): the layers'
    variant with its parameters ("primal_causal:rank=32"); mixed layers joined by "+"."""
    defaults = model.get("defaults", {}).get("attention", {})
    names = []
    for layer in model.get("layers", []) or [{}]:
        a = dict(defaults)
        a.update(layer.get("attention", {}))
        params = ",".join("%s=%s" % (k, a[k]) for k in sorted(a) if k != "variant")
        name = str(a.get("variant", "?")) + (":" + params if params else "")
        if name not in names:
            names.append(name)
    return "+".join(names)


def _report_files(path, error):
    """report.json files named by `path`: the file itself, a run folder holding one, or a folder
    of run folders (each with its report.json, in name order)."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        error("%s: no such file or folder" % path)
    own = os.path.join(path, "report.json")
    if os.path.isfile(own):
        return [own]
    found = sorted(os.path.join(path, d, "report.json") for d in os.listdir(path)
                   if os.path.isfile(os.path.join(path, d, "report.json")))
    if not found:
        error("%s: no report.json in it or in its subfolders" % path)
    return found


def _steps_of_report(path, error):
    """The rows (DECODE_COLUMNS) of one report.json's decode steps."""
    try:
        with open(path) as f:
            r = json.load(f)
    except OSError as e:
        error("%s: cannot read: %s" % (path, e.strerror))
    except ValueError as e:
        error("%s: not JSON: %s" % (path, e))
    g = r.get("generation") if isinstance(r, dict) else None
    if not isinstance(g, dict):
        error("%s: /generation: missing (not the report of attnsim run --generate)" % path)
    try:
        hw = short_hardware(r["hardware"]["source"])
        variant = model_variant(r.get("model", {}))
        sb = g["state_bytes_per_sequence"]
        rows = []
        for s in g["steps"]:
            d = s["dram_bytes"]
            context = int(s["context"])
            rows.append({
                "hardware": hw, "variant": variant, "batch": int(g["batch"]), "context": context,
                "simulated": bool(s["simulated"]), "time_s": float(s["time_s"]),
                "dram_weights_bytes": float(d["weights"]), "dram_state_bytes": float(d["state"]),
                "dram_activation_bytes": float(d["activations"]),
                "dram_total_bytes": float(d["total"]), "binding": s["binding"],
                "state": g["state"],
                # the cache or state of a sequence holding `context` tokens
                "state_bytes_per_sequence": float(sb["after_prefill"]) + float(sb["per_token"])
                * (context - int(g["prefill_tokens"])),
                "prefill_simulated": g.get("ttft_s") is not None, "report": path})
    except (KeyError, TypeError, ValueError) as e:
        error("%s: /generation: unexpected content (%s: %s)" % (path, type(e).__name__, e))
    return rows


def _bool(text):
    return str(text).strip().lower() in ("true", "1", "yes")


def _steps_of_table(path, error):
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in DECODE_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                error("%s: missing columns %s (a table of decode steps has: %s)"
                      % (path, ", ".join(missing), ", ".join(DECODE_COLUMNS)))
            raw = list(reader)
    except OSError as e:
        error("%s: cannot read: %s" % (path, e.strerror))
    rows = []
    for line, t in enumerate(raw, start=2):
        try:
            row = dict(t)
            for c in ("batch", "context"):
                row[c] = int(t[c])
            for c in ("time_s", "dram_weights_bytes", "dram_state_bytes", "dram_activation_bytes",
                      "dram_total_bytes", "state_bytes_per_sequence"):
                row[c] = float(t[c])
            row["simulated"], row["prefill_simulated"] = _bool(t["simulated"]), _bool(t["prefill_simulated"])
        except ValueError as e:
            error("%s: line %d: %s" % (path, line, e))
        rows.append(row)
    return rows


def read_decode_steps(inputs, error):
    """The decode steps of `inputs` (report.json files of attnsim run --generate, their run
    folders, folders of run folders, or .csv tables with DECODE_COLUMNS) as rows keyed by
    DECODE_COLUMNS, one per (hardware, variant, batch, context): a simulated step wins over an
    interpolated one, else the first given. `error(message)` must not return."""
    by_key = {}
    for path in inputs:
        if path.lower().endswith(".csv"):
            rows = _steps_of_table(path, error)
        else:
            rows = [r for f in _report_files(path, error) for r in _steps_of_report(f, error)]
        for r in rows:
            key = (r["hardware"], r["variant"], r["batch"], r["context"])
            if key not in by_key or (r["simulated"] and not by_key[key]["simulated"]):
                by_key[key] = r
    if not by_key:
        error("%s: no decode steps" % " ".join(inputs))
    return sorted(by_key.values(), key=lambda r: (r["hardware"], r["variant"], r["batch"], r["context"]))


def is_vanilla(variant):
    """Whether a variant label decodes with a KV cache (flash, row_fused, unfused)."""
    return variant.split(":", 1)[0] in VANILLA_VARIANTS
