#!/usr/bin/env python3
"""SCALE-Sim v2's compute cycles per layer, re-derived in plain Python as an independent reference.

It follows SCALE-Sim v2's own code path (github.com/scalesim-project/scale-sim-v2, commit
22f88b17f1dd3160e18bff5df165035bf8146e83), not attnsim's formula:
  * the run config is read with configparser, as scalesim/scale_config.py does;
  * a topology row is split as scalesim/topology_utils.py splits it (strip, split(',')[:-1], a 'DP'
    layer expanded per channel, one stride for both directions), and the ofmap size is its
    ceil((H - F + S) / S);
  * the operand matrices have the shapes of scalesim/compute/operand_matrix.py (ifmap: ofmap pixels x
    window, filter: window x filters, ofmap: ofmap pixels x filters);
  * per fold, the ofmap demand matrix is built as scalesim/compute/systolic_compute_{os,ws,is}.py build
    it (a prefix of idle rows, the fold's rows, then skew_matrix adding cols - 1 rows); the memory
    system serves one demand row per cycle, so with no stall (InterfaceBandwidth CALC) the last ofmap
    row is served at cycle (total rows - 1): SCALE-Sim's "Total Cycles" (memory/
    double_buffered_scratchpad_mem.py, service_memory_requests);
  * Mapping Efficiency % and Overall Util % as scalesim/single_layer_sim.py and the compute classes
    compute them.
Only matrix shapes are needed, so no numpy. The test data's golden report (golden_COMPUTE_REPORT.csv,
from SCALE-Sim's test/golden_trace, scale_ws.cfg on alexnet_part.csv) checks this script itself.

  reference.py            prints expected.csv
  reference.py --check    exits 1 unless expected.csv is what it prints and the golden report agrees
"""
import configparser
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# (run config, topology, GEMM topology?) as `scale.py -c CFG -t TOPO [-i gemm]` would run them.
CASES = [
    ("scale_ws.cfg", "alexnet_part.csv", False),
    ("scale.cfg", "alexnet.csv", False),
    ("scale.cfg", "test.csv", False),
    ("scale.cfg", "Resnet_test.csv", False),
    ("scale.cfg", "mlperf_test.csv", False),
    ("scale.cfg", "test_mnk_input.csv", True),
    ("scale.cfg", "transformer_partial.csv", True),
    ("scale_ws.cfg", "alexnet.csv", False),
    ("scale_is.cfg", "alexnet.csv", False),
    ("scale_is.cfg", "test_mnk_input.csv", True),
    ("eyeriss.cfg", "alexnet.csv", False),
    ("eyeriss.cfg", "transformer_partial.csv", True),
    ("google.cfg", "test.csv", False),
    ("google.cfg", "transformer_partial.csv", True),
]


def read_config(path):
    config = configparser.ConfigParser()
    config.read(path)
    sec = "architecture_presets"
    return int(config.get(sec, "ArrayHeight")), int(config.get(sec, "ArrayWidth")), config.get(sec, "Dataflow")


def read_topology(path, gemm):
    layers = []  # [name, ifmap_h, ifmap_w, filt_h, filt_w, channels, num_filt, stride_h, stride_w]
    with open(path, "r") as f:
        rows = f.read().split("\n")
    first = True
    for row in rows:
        row = row.strip()
        if first:
            first = False
            continue
        if row == "":
            continue
        elems = row.split(",")[:-1]
        if gemm:
            name, m, n, k = elems[0].strip(), int(elems[1]), int(elems[2]), int(elems[3])
            layers.append([name, m, k, 1, k, 1, n, 1, 1])
            continue
        vals = [int(x.strip()) for x in elems[1:]]
        if len(vals) == 7:
            vals.append(vals[6])
        if "DP" in elems[0].strip():
            for c in range(vals[4]):
                v = list(vals)
                v[4] = 1
                layers.append([elems[0].strip() + "Channel_" + str(c)] + v)
        else:
            layers.append([elems[0].strip()] + vals)
    return layers


def fold_rows(df, R, C, Sr, Sc, T):
    """The ofmap demand matrix's rows per fold, and the used PEs per fold, in fold order."""
    row_fold, col_fold = math.ceil(Sr / R), math.ceil(Sc / C)
    folds = []
    for fc in range(col_fold):
        for fr in range(row_fold):
            rows_used = min(R, Sr - fr * R)
            cols_used = min(C, Sc - fc * C)
            if df == "os":
                # (T - 1) idle rows, then the R x C fold (padded to R rows), then skewed over C columns
                rows = (T - 1) + R + (C - 1)
            else:
                # ws, is: (2R - 1) idle rows, then T rows of the fold, then skewed over C columns
                rows = (2 * R - 1) + T + (C - 1)
            folds.append((rows, rows_used * cols_used))
    return folds


def layer_figures(R, C, df, layer):
    _, ih, iw, fh, fw, ch, nf, sh, sw = layer
    oh = int(math.ceil((ih - fh + sh) / sh))
    ow = int(math.ceil((iw - fw + sw) / sw))
    px, window = oh * ow, fh * fw * ch
    # operand matrices: ifmap px x window, filter window x nf, ofmap px x nf
    if df == "os":
        Sr, Sc, T = px, nf, window
    elif df == "ws":
        Sr, Sc, T = window, nf, px
    else:
        Sr, Sc, T = window, px, nf
    folds = fold_rows(df, R, C, Sr, Sc, T)
    total = sum(r for r, _ in folds) - 1
    mapping = sum(u / (R * C) for _, u in folds) / len(folds) * 100
    num_compute = px * nf * window
    util = num_compute * 100 / (total * R * C)
    return px, nf, window, total, mapping, util


def expected_rows():
    out = ["cfg,topology,layer_id,layer,m,n,k,compute_cycles,mapping_efficiency_pct,overall_util_pct"]
    for cfg, topo, gemm in CASES:
        R, C, df = read_config(os.path.join(HERE, cfg))
        for i, layer in enumerate(read_topology(os.path.join(HERE, topo), gemm)):
            m, n, k, total, mapping, util = layer_figures(R, C, df, layer)
            out.append("%s,%s,%d,%s,%d,%d,%d,%d,%.6f,%.6f" % (cfg, topo, i, layer[0], m, n, k, total, mapping, util))
    return "\n".join(out) + "\n"


def golden_agrees():
    """SCALE-Sim's own run (its test/golden_trace) against this script's numbers."""
    with open(os.path.join(HERE, "golden_COMPUTE_REPORT.csv")) as f:
        lines = f.read().strip().split("\n")
    fields = [x.strip() for x in lines[1].split(",")]
    total, stall, util, mapping = int(fields[1]), int(fields[2]), float(fields[3]), float(fields[4])
    R, C, df = read_config(os.path.join(HERE, "scale_ws.cfg"))
    layer = read_topology(os.path.join(HERE, "alexnet_part.csv"), False)[0]
    _, _, _, mine, my_mapping, my_util = layer_figures(R, C, df, layer)
    return stall == 0 and mine == total and abs(my_mapping - mapping) < 1e-9 and abs(my_util - util) < 1e-9


if __name__ == "__main__":
    text = expected_rows()
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        with open(os.path.join(HERE, "expected.csv")) as f:
            same = f.read() == text
        golden = golden_agrees()
        print("expected.csv up to date: %s; golden COMPUTE_REPORT agrees: %s" % (same, golden))
        sys.exit(0 if same and golden else 1)
    sys.stdout.write(text)
