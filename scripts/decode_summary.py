#!/usr/bin/env python3
"""The decode section of the main job's summary (markdown): per hardware and batch, the time per
output token of each variant against the context, from which context each low-rank variant
decodes faster than vanilla attention, and what its fixed-size state saves in memory per
sequence against the KV cache.

Input: the generation reports of `attnsim run --generate` (report.json files, run folders or
folders of run folders) or a table of decode steps (.csv with the columns of
attnsim_results.DECODE_COLUMNS, as --csv writes it). Rules:
- vanilla is --baseline (default: the first of flash, row_fused, unfused present): it reads a KV
  cache; every other variant is a low-rank one (primal_causal, lowrank_linear);
- "faster from context C": C is the smallest context measured for both such that the low-rank
  variant's decode step takes less time than vanilla's at C and at every larger context
  measured; "never" when it is slower at the largest;
- memory per sequence at context c: the KV cache (vanilla) or the state (low-rank) of one
  sequence holding c tokens, as the report gives it (state_bytes_per_sequence: after the prefill,
  plus per token); "saves" is the cache minus the state, and the ratio cache / state.
Python standard library only.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnsim_results as res  # noqa: E402

PROG = os.path.basename(sys.argv[0])


def fmt_ctx(c):
    """4096 -> "4K", 131072 -> "128K", 1000 -> "1000"."""
    return "%dK" % (c // 1024) if c % 1024 == 0 else str(c)


def fmt_bytes(b):
    """Decimal units, as attnsim prints them: 1610612736 -> "1.61 GB", 12288 -> "12.3 kB"."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            return "%.3g %s" % (b / scale, unit)
    return "%d B" % b


def fmt_ratio(x):
    """2.5 -> "2.5x", 1024 -> "1,024x", 65536.4 -> "65,536x"."""
    return ("%.3g" % x if x < 1000 else "{:,.0f}".format(x)) + "x"


def fmt_ms(s):
    return "%.4g" % (s * 1e3)


def crossover(vanilla, other):
    """(C, B): C the smallest context from which `other` is faster than `vanilla` at every larger
    context both have ({context: time_s} each), or None; B the next smaller context they share
    (where `other` is not faster), or None."""
    common = sorted(set(vanilla) & set(other))
    start, below = None, None
    for c in reversed(common):
        if other[c] < vanilla[c]:
            start = c
        else:
            below = c
            break
    return start, below


def summarize(rows, baseline, title):
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    if baseline is None:
        baseline = next((v for k in res.VANILLA_VARIANTS for v in variants if v.split(":")[0] == k), None)
        if baseline is None:
            res.fail(PROG, "no vanilla variant (flash, row_fused, unfused) among: " + ", ".join(variants))
    elif baseline not in variants:
        res.fail(PROG, "--baseline %s: not among the variants: %s" % (baseline, ", ".join(variants)))
    lowrank = sorted((v for v in variants if v != baseline and not res.is_vanilla(v)),
                     key=lambda v: (v.split(":")[0] != "primal_causal", v))  # primal first
    if not lowrank:
        res.fail(PROG, "no low-rank variant beside %s among: %s" % (baseline, ", ".join(variants)))
    hardware = list(dict.fromkeys(sorted((r["hardware"] for r in rows), key=lambda h: (h != "edge", h))))
    batches = sorted({r["batch"] for r in rows})
    time = {}  # (hardware, batch, variant) -> {context: time_s}
    binding = {}
    for r in rows:
        time.setdefault((r["hardware"], r["batch"], r["variant"]), {})[r["context"]] = r["time_s"]
        binding[(r["hardware"], r["batch"], r["variant"], r["context"])] = r["binding"]
    out = ["## %s" % title, ""]
    simulated = sum(1 for r in rows if r["simulated"])
    prefill = sum(1 for r in rows if r["prefill_simulated"])
    how = ("every one simulated exactly" if simulated == len(rows) else
           "%d of them simulated exactly, the others interpolated between simulated steps" % simulated)
    out.append("%d decode steps, %s%s. A decode step produces one token per sequence of the batch; its "
               "time is the time per output token." % (len(rows), how, "" if prefill else
                                                       "; no prefill simulated (attnsim run --decode-only: "
                                                       "a step depends on the prompt only through its context)"))
    out.append("")
    out.append("### When the low-rank variants decode faster than %s" % baseline)
    out.append("")
    out.append("| hardware | batch | variant | faster from context | time per token at the "
               "largest context, ms | %s, ms | speed-up | bound by (largest context) |" % baseline)
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for hw in hardware:
        for b in batches:
            van = time.get((hw, b, baseline))
            if not van:
                continue
            for v in lowrank:
                lr = time.get((hw, b, v))
                if not lr or not set(lr) & set(van):
                    continue
                common = set(lr) & set(van)
                top = max(common)
                c, below = crossover(van, lr)
                if c is None:
                    where = "never up to %s" % fmt_ctx(top)
                elif c == top:
                    where = "%s (the only context measured)" % fmt_ctx(c)
                elif below is None:
                    where = "%s (every context measured, %s..%s)" % (fmt_ctx(c), fmt_ctx(c), fmt_ctx(top))
                else:
                    where = "%s (not at %s)" % (fmt_ctx(c), fmt_ctx(below))
                out.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                    hw, b, v, where, fmt_ms(lr[top]), fmt_ms(van[top]), fmt_ratio(van[top] / lr[top]),
                    binding[(hw, b, v, top)] + "; " + baseline + ": " + binding[(hw, b, baseline, top)]))
    out.append("")
    # The weights every step streams, whatever the context: where the variants differ at a short context.
    weights = {}
    for r in rows:
        weights.setdefault(r["variant"], set()).add(r["dram_weights_bytes"])
    out.append("Weights streamed from DRAM per step (any context): " + ", ".join(
        "%s %s" % (v, fmt_bytes(min(weights[v])) if len(weights[v]) == 1 else
                   "%s..%s" % (fmt_bytes(min(weights[v])), fmt_bytes(max(weights[v]))))
        for v in [baseline] + lowrank) + ".")
    out.append("")
    # Memory per sequence: the same on every hardware and batch; read from the first that has it.
    mem = {}
    for r in rows:
        mem.setdefault(r["variant"], {}).setdefault(r["context"], r["state_bytes_per_sequence"])
    contexts = sorted(mem.get(baseline, {}))
    out.append("### Memory per sequence: %s's KV cache against the low-rank state" % baseline)
    out.append("")
    head = "| context | %s KV cache |" % baseline + "".join(" %s state | saves |" % v for v in lowrank)
    out.append(head)
    out.append("|" + " --- |" * (2 + 2 * len(lowrank)))
    for c in contexts:
        cache = mem[baseline][c]
        cells = "| %s | %s |" % (fmt_ctx(c), fmt_bytes(cache))
        for v in lowrank:
            s = mem.get(v, {}).get(c)
            if s is None:
                cells += " | |"
            else:
                cells += " %s | %s (%s) |" % (fmt_bytes(s), fmt_bytes(cache - s),
                                             fmt_ratio(cache / s) + " less" if s > 0 else "no state")
        out.append(cells)
    out.append("")
    if contexts:
        top = contexts[-1]
        for b in batches:
            if b > 1:
                out.append("At context %s a batch of %d holds %s of KV cache (%s); %s." % (
                    fmt_ctx(top), b, fmt_bytes(b * mem[baseline][top]), baseline,
                    ", ".join("%s %s" % (v, fmt_bytes(b * mem[v][top])) for v in lowrank if top in mem.get(v, {}))))
        out.append("")
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="report.json, run folders, folders of run folders, or decode tables (.csv)")
    p.add_argument("-o", "--out", help="write the section here (default: standard output)")
    p.add_argument("--csv", metavar="FILE", help="also write the decode steps read as a table")
    p.add_argument("--baseline", help="the vanilla variant (default: flash, row_fused or unfused)")
    p.add_argument("--title", default="Decode: KV cache against fixed-size state",
                   help="the section's heading")
    args = p.parse_args()
    rows = res.read_decode_steps(args.inputs, lambda m: res.fail(PROG, m))
    if args.csv:
        import csv
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=res.DECODE_COLUMNS, lineterminator="\n")
            w.writeheader()
            w.writerows([{k: str(v).lower() if isinstance(v, bool) else v for k, v in r.items()}
                         for r in rows])
    res.write_text(args.out, summarize(rows, args.baseline, args.title))


if __name__ == "__main__":
    main()
