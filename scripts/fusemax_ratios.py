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

Their attention per score is then taken apart with their own counts and per-action figures (explained():
MACs, softmax or FuseMax operations, DRAM traffic, global buffer; registers 0, as cascade.py passes one PE's
counts) and what is left, the remainder, is split by head dimension (BERT E 64 against XLM E 128 at 4K) into
a part per MAC and a part per score. FLAT and unfused carry a per-score part (628 and 491 pJ) that FuseMax
does not (0.9 pJ): no action count of their mappings accounts for it. The ratios are also compared with
theirs less those per-score parts, which says how much of a gap is that remainder.

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
# Their DRAM traffic (bytes, the CSVs' traffic column: attn-unfused, attn-flat, attn-binding), BERT.
THEIR_TRAFFIC = {
    1024: {"unfused": 6845104128, "flat": 1308622848, "fused": 402653184},
    4096: {"unfused": 104689827840, "flat": 21128367461.209305, "fused": 1610612736},
    16384: {"unfused": 1655709892608, "flat": 333222041171.3489, "fused": 6442450944},
}
# XLM at 4K (the same CSVs; flat_validation.csv: B 64, H 16, E = F = 128), energy and traffic: with BERT
# (E = F = 64) it splits what their counts leave unexplained into a part per MAC and a part per score.
THEIR_XLM_4K = {"unfused": (95123733525525.7, 141733920768), "flat": (92439452690514.44, 54237627917.03273),
                "fused": (80312436464956.78, 4294967296)}
XLM_SCORES_4K = 64 * 16 * 4096 * 4096
# Their per-action energies (workspace/inputs/yamls/area_energy/outputs-*/ERT.yaml; configs/energy/
# fusemax-artifact.json cites each): fp16 MAC, 1D softmax primitives, a 512 B buffer row read and write (their
# scalar counts divided by 256 words per row), HBM2 per byte (249.6 pJ per 64-bit access).
MAC = 17.1645
ADD, MAX, EXP, DIV = 8.3395, 0.028036, 94.6475, 36.251153
ROW_READ, ROW_WRITE = 484.97271, 451.30271
DRAM_PJ_PER_BYTE = 249.6 / 8
HEAD_DIM = {"BERT": 64, "XLM": 128}
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


def explained(schedule, n, e):
    """Their attention energy per score (pJ) that their own counts explain, by part, for head dim e (= F) at
    sequence length n (the artifact's src/accel: flat.py, unfused.py, stable_softmax.py, proposal.py; counts
    as cascade.py hands them to Accelergy):
      mac      2e MACs a score (Q K^T and P V), all three;
      ops      unfused and FLAT: the 1D softmax's max, add + exponential, add, divide a score
               (stable_softmax.py compute_cost); FuseMax: per score LM max, SLN 6 MACs + add, SLD add
               (proposal.py compute_cost), per 256-key tile and query row RM max, PRM 6 MACs + add, SPD MAC,
               RD add, and per tile, row and value column SPNV MAC and RNV add, per row and column the AV
               divide (e / n a score);
      buffer   FLAT: per score the global buffer's QK write, two QK reads (max, exp), SN write and read, A
               write and read (flat.py keeps QK and A on chip, stable_softmax.py's on-chip mappings): 4 reads
               and 3 writes of one 16-bit word, a 256th of a row each; unfused: unknown (Timeloop's mapper
               picks its mapping; left in the remainder); FuseMax: the running max, sum and output per
               tile, under 0.1 pJ a score, taken as 0;
      regs     0: cascade.py reads Timeloop's "Scalar reads (per-instance)" for the PE register files, one
               PE's count of 65,536 (of 256 in the 1D array).
    The DRAM part is their traffic x 31.2 pJ/B (dram() below)."""
    if schedule == "fused":
        tile = MAX + (6 * MAC + ADD) + MAC + ADD + e * (MAC + ADD)
        ops = MAX + (6 * MAC + ADD) + ADD + tile / 256 + e * DIV / n
        buf = 0.0
    else:
        ops = MAX + ADD + EXP + ADD + DIV
        buf = (4 * ROW_READ + 3 * ROW_WRITE) / 256 if schedule == "flat" else 0.0
    return {"mac": 2 * e * MAC, "ops": ops, "buffer": buf}


def decomposition(n):
    """{schedule: {published, mac, ops, dram, buffer, remainder}} per score (pJ), BERT at n."""
    scores = THEIR_SCORES_PER_N2 * n * n
    out = {}
    for s in ("unfused", "flat", "fused"):
        d = explained(s, n, HEAD_DIM["BERT"])
        d["published"] = THEIRS[n][s] / scores
        d["dram"] = THEIR_TRAFFIC[n][s] * DRAM_PJ_PER_BYTE / scores
        d["remainder"] = d["published"] - d["mac"] - d["ops"] - d["dram"] - d["buffer"]
        out[s] = d
    return out


def remainder_split():
    """{schedule: (pJ per MAC, pJ per score)}: the remainder at 4K of BERT (E = 64, 128 MACs a score) and
    XLM (E = 128, 256 MACs a score) solved as a x MACs + b."""
    bert = decomposition(4096)
    out = {}
    for s in ("unfused", "flat", "fused"):
        energy, traffic = THEIR_XLM_4K[s]
        d = explained(s, 4096, HEAD_DIM["XLM"])
        r_xlm = energy / XLM_SCORES_4K - d["mac"] - d["ops"] - d["buffer"] - traffic * DRAM_PJ_PER_BYTE / XLM_SCORES_4K
        r_bert = bert[s]["remainder"]
        per_mac = (r_xlm - r_bert) / (2 * (HEAD_DIM["XLM"] - HEAD_DIM["BERT"]))
        out[s] = (per_mac, r_bert - per_mac * 2 * HEAD_DIM["BERT"])
    return out


def theirs_less_constant(n):
    """theirs(n) with each schedule's per-score part of the remainder (remainder_split) taken out of its
    attention energy, for every N (the part does not depend on N)."""
    split = remainder_split()
    scores = THEIR_SCORES_PER_N2 * n * n
    t = {s: THEIRS[n][s] - split[s][1] * scores for s in ("unfused", "flat", "fused")}
    whole = {"unfused": t["unfused"] + THEIRS[n]["linear_flat"], "flat": t["flat"] + THEIRS[n]["linear_flat"],
             "fused": t["fused"] + THEIRS[n]["linear_fused"]}
    return {"attention": (t["flat"] / t["unfused"], t["fused"] / t["flat"]),
            "whole model": (whole["flat"] / whole["unfused"], whole["fused"] / whole["flat"])}


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
    def ratio_rows(reference, suffix, split_gap):
        # One row per N, scope and ratio: the reference's ratio and ours per table, each within 15 % or out.
        for n in ns:
            ref = reference(n)
            for scope in ("attention", "whole model"):
                for i, name in enumerate(("FLAT / unfused", "FuseMax / FLAT")):
                    want = ref[scope][i]
                    cells = [str(n), scope, name, "%.3f" % want]
                    for t, r in runs:
                        got = r[n][scope][i]
                        ok = within(got, want)
                        cells.append("%.3f (%+.1f %%%s)" % (got, 100 * (got / want - 1), "" if ok else ", out"))
                        verdicts.append((t + suffix, n, scope, name, ok))
                    if split_gap:
                        mine, art = runs[0][1][n][scope][i], runs[1][1][n][scope][i]
                        cells += ["%+.1f %%" % (100 * (mine / art - 1)), "%+.1f %%" % (100 * (art / want - 1))]
                    lines.append("| " + " | ".join(cells) + " |")

    ratio_rows(theirs, "", len(runs) == 2)
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
    lines += ["Their attention per score (pJ), by part: what their counts and per-action table explain "
              "(scripts/fusemax_ratios.py explained(): MACs, softmax or FuseMax operations, DRAM traffic x 31.2 pJ/B, "
              "global buffer) and the remainder.", "",
              "| N | schedule | published | MACs | operations | DRAM | buffer | remainder |", "|---|---|---|---|---|---|---|---|"]
    for n in ns:
        dec = decomposition(n)
        for s, name in (("unfused", "unfused"), ("flat", "FLAT"), ("fused", "FuseMax")):
            d = dec[s]
            lines.append("| %d | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f (%.1f %%) |" % (
                n, name, d["published"], d["mac"], d["ops"], d["dram"], d["buffer"], d["remainder"],
                100 * d["remainder"] / d["published"]))
    split = remainder_split()
    lines += ["", "The remainder at 4K of BERT (E = 64) and XLM (E = 128) split into a part per MAC and a part per score:", ""]
    for s, name in (("unfused", "unfused"), ("flat", "FLAT"), ("fused", "FuseMax")):
        lines.append("- %s: %.3f pJ per MAC, %.1f pJ per score" % (name, split[s][0], split[s][1]))
    lines += ["", "Against theirs less each schedule's per-score remainder (the part no count of theirs explains):", "",
              "| N | scope | ratio | FuseMax, less | " + " | ".join("ours, %s" % t for t, _ in runs) + " |",
              "|" + "---|" * (4 + len(runs))]
    ratio_rows(theirs_less_constant, " against theirs less the per-score remainder", False)
    lines.append("")
    for t in [t for t, _ in runs] + ["%s against theirs less the per-score remainder" % t for t, _ in runs]:
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
