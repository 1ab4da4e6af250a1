#!/usr/bin/env python3
"""Energy ratios between schedules against FuseMax's published figures: unfused, FLAT and FuseMax
on FLAT's cloud configuration, BERT, attention alone and the whole model.

Ours: `attnsim compare --out DIR` of a model on the fusemax-cloud preset with three variants, an
unfused one (their baseline spills the score matrix: `unfused:spill=1`), `flash` (FLAT: the fused
tiling of Q K^T, softmax and P V on chip) and `fused` (FuseMax: attention in the array), run once
per energy table. Attention alone is the energy of the op classes qk, softmax and pv (their
`energy_pj.total`: the ops' own counted actions; the fused instructions are classed qk); the whole
model is `energy.total_pj` (with leakage and DRAM background, which FuseMax's figures do not have;
the fusemax-artifact table prices both at 0).

Theirs: the artifact's pregenerated results (github.com/FPSG-UIUC/micro24-fusemax-artifact,
workspace/outputs/pregenerated/results): attention energy from attn-unfused.csv, attn-flat.csv and
attn-arch.csv (FuseMax, = attn-binding.csv's energy), BERT; the whole model adds the linear layers
of end2end-flat.csv (unfused, FLAT) or end2end-proposal.csv (FuseMax), as the artifact's Figure 11
does (src/utils/graph.py). Their units cancel in the ratios. The per-score table divides attention's energy by the scores
computed: theirs B 64 x H 12 x N^2 (one layer: the BERT rows of flat_validation.csv, which their
Transformer class reads), in pJ as Accelergy gives them; ours layers x batch x heads x N^2 from
the report's workload. It shows which schedule's cost differs, not only the ratio.

With two compare files (the project's table, then the fusemax-artifact table, which carries the
artifact's per-action figures), the gap to FuseMax is split: table = ours(45nm) / ours(artifact),
the part the per-action energies make; counts = ours(artifact) / theirs, what stays with the same
per-action figures (schedules, counts, what is and is not charged).

Usage:
  fusemax_ratios.py COMPARE.json [COMPARE_ARTIFACT_TABLE.json] [--labels A,B] [-o OUT.md]
"""
import argparse
import json
import sys

# BERT energies from the artifact's pregenerated results (see the docstring), by sequence length.
THEIRS = {
    1024: {"unfused": 2605413731452.846, "flat": 2485343541836.59, "fused": 1950645149855.2659,
           "linear_flat": 8405303925584.939, "linear_fused": 8224360503789.642},
    4096: {"unfused": 41396611486873.29, "flat": 39767686118770.086, "fused": 30897520074119.223,
           "linear_flat": 33617643141308.637, "linear_fused": 32894810545379.28},
    16384: {"unfused": 661185750924483.6, "flat": 636117220189497.8, "fused": 493109111891647.44,
            "linear_flat": 134467000004203.44, "linear_fused": 131576610711737.84},
}
THEIR_SCORES_PER_N2 = 64 * 12  # B x H of one BERT layer (flat_validation.csv)
ATTENTION_CLASSES = ("qk", "softmax", "pv")
TARGET = 0.15  # the goal: within 15 % of FuseMax's ratios
PROG = "fusemax_ratios"


def fail(msg):
    sys.stderr.write("%s: %s\n" % (PROG, msg))
    sys.exit(2)


def theirs(n):
    t = THEIRS[n]
    whole = {"unfused": t["unfused"] + t["linear_flat"], "flat": t["flat"] + t["linear_flat"],
             "fused": t["fused"] + t["linear_fused"]}
    return {"attention": (t["flat"] / t["unfused"], t["fused"] / t["flat"]),
            "whole model": (whole["flat"] / whole["unfused"], whole["fused"] / whole["flat"])}


def schedule(variant):
    name = variant.split(":")[0]
    return {"unfused": "unfused", "flash": "flat", "row_fused": None, "fused": "fused"}.get(name)


def ours(path):
    """{N: {"attention": (FLAT/unfused, fused/FLAT), "whole model": (...)}} from a compare.json."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        fail("%s: %s" % (path, e))
    energy = {}
    table = None
    for p in doc.get("points", []):
        s = schedule(p.get("variant", ""))
        if s is None:
            continue
        if p.get("status") != "ok":
            fail("%s: point %s at N = %s failed" % (path, p.get("variant"), p.get("seq_len")))
        r = p["report"]
        if "energy" not in r or "total_pj" not in r["energy"]:
            fail("%s: point %s has no energy section" % (path, p.get("variant")))
        table = r["energy"].get("table", table)
        ops = r.get("ops", {})
        attn = sum(ops[c]["energy_pj"]["total"] for c in ATTENTION_CLASSES if c in ops)
        w = r.get("workload", {})
        n = int(p["seq_len"])
        scores = w.get("layers", 1) * w.get("batch", 1) * w.get("heads", 1) * n * n
        energy.setdefault(n, {})[s] = (attn, r["energy"]["total_pj"], attn / scores)
    out = {}
    for n, e in sorted(energy.items()):
        if set(e) != {"unfused", "flat", "fused"}:
            continue
        out[n] = {k: (e["flat"][i] / e["unfused"][i], e["fused"][i] / e["flat"][i])
                  for i, k in enumerate(("attention", "whole model"))}
        out[n]["per score"] = {s: e[s][2] for s in e}
    if not out:
        fail("%s: no sequence length with an unfused, a flash and a fused point" % path)
    return table, out


def within(a, b):
    return abs(a / b - 1) <= TARGET


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("compare", nargs="+", help="compare.json of attnsim compare --out (one or two)")
    ap.add_argument("-o", "--out", help="output markdown (default: standard output)")
    a = ap.parse_args()
    if len(a.compare) > 2:
        fail("give one or two compare.json files")
    runs = [ours(p) for p in a.compare]
    lines = ["## Energy ratios against FuseMax (BERT, FLAT's cloud configuration)", "",
             "Ours from %s; theirs from the FuseMax artifact's pregenerated results (scripts/fusemax_ratios.py "
             "says which files). FLAT is our `flash`, unfused our `unfused:spill=1`, FuseMax our `fused`. "
             "Deviation: ours / theirs - 1; the goal is within %d %%." % (
                 ", ".join("`%s` (table %s)" % (p, t) for p, (t, _) in zip(a.compare, runs)), TARGET * 100), ""]
    head = ["N", "scope", "ratio", "FuseMax"] + ["ours, %s" % t for t, _ in runs]
    if len(runs) == 2:
        head += ["table part", "counts part"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    verdicts = []
    ns = sorted(set.intersection(*[set(r) for _, r in runs]) & set(THEIRS))
    for n in ns:
        ref = theirs(n)
        for scope in ("attention", "whole model"):
            for i, name in enumerate(("FLAT / unfused", "FuseMax / FLAT")):
                want = ref[scope][i]
                cells = [str(n), scope, name, "%.3f" % want]
                for t, r in runs:
                    got = r[n][scope][i]
                    ok = within(got, want)
                    cells.append("%.3f (%+.1f %%%s)" % (got, 100 * (got / want - 1), "" if ok else ", out"))
                    verdicts.append((t, n, scope, name, ok))
                if len(runs) == 2:
                    mine, art = runs[0][1][n][scope][i], runs[1][1][n][scope][i]
                    cells += ["%+.1f %%" % (100 * (mine / art - 1)), "%+.1f %%" % (100 * (art / want - 1))]
                lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += ["Attention's energy per score (pJ): the ratios' numerators and denominators.", ""]
    head = ["N", "schedule", "FuseMax"] + ["ours, %s" % t for t, _ in runs]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in ns:
        for s, name in (("unfused", "unfused"), ("flat", "FLAT"), ("fused", "FuseMax")):
            want = THEIRS[n][s] / (THEIR_SCORES_PER_N2 * n * n)
            lines.append("| " + " | ".join([str(n), name, "%.0f" % want] + [
                "%.0f (%+.1f %%)" % (r[n]["per score"][s], 100 * (r[n]["per score"][s] / want - 1))
                for _, r in runs]) + " |")
    lines.append("")
    for t, _ in runs:
        mine = [v for v in verdicts if v[0] == t]
        good = sum(1 for v in mine if v[4])
        lines.append("- table %s: %d of %d ratios within %d %%%s" % (
            t, good, len(mine), TARGET * 100,
            "" if good == len(mine) else "; out: " + "; ".join(
                "%s %s at N = %d" % (v[3], v[2], v[1]) for v in mine if not v[4])))
    lines.append("")
    text = "\n".join(lines) + "\n"
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
