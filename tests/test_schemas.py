#!/usr/bin/env python3
"""`attnsim schema FORMAT` checked with a real JSON Schema validator (Debian's python3-jsonschema,
Draft 2020-12), for every format: hw, model, sweep, mapping, cascade-mapping, energy, dram.
  - each schema is itself a valid draft 2020-12 schema, and printing it twice gives the same bytes;
  - every preset (configs/presets), model (models/*.json), sweep spec (configs/sweeps), energy table
    (configs/energy), DRAM device (configs/dram) and mapping file (fuzz/corpus/mapping, and the ones
    `run --emit mapping` and `gemm --emit mapping` print for each attention variant) validates; the
    hw, model and sweep documents also with a "$schema" key (which attnsim accepts there too: checked
    on the base documents below); each cascade mapping inside a mapping file also validates as a
    cascade mapping file of its own;
  - every bad document below is rejected by attnsim (exit 2: `check`, `check --model`,
    `sweep --dry-run`, `run --mapping`, a model's cascade mapping, a hardware config naming the
    energy table or the DRAM device file), and by the schema too, unless its row names why the rule
    cannot be written in a schema (rules across fields, or that need files, the hardware, the model
    or the cascade); such a row also checks that the schema does accept it, so that the reason
    stays true.
The bad documents are the cases of tests/test_config.cpp, test_model_config.cpp, test_sweep.cpp,
test_mapper.cpp, test_cascade.cpp, test_cascade_search.cpp, test_lowrank_mapper.cpp, test_energy.cpp
and test_bad_inputs.cpp, replayed on the same base documents.
Run by ctest; by hand: /usr/bin/python3 tests/test_schemas.py BUILD_DIR
"""
import copy
import glob
import json
import os
import subprocess
import sys
import tempfile

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ATTNSIM = os.path.join(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"), "attnsim")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def schema_of(fmt):
    first = subprocess.run([ATTNSIM, "schema", fmt], capture_output=True, check=True).stdout
    second = subprocess.run([ATTNSIM, "schema", fmt], capture_output=True, check=True).stdout
    if first != second:
        fail(f"schema {fmt}: two runs differ")
    schema = json.loads(first)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


FORMATS = ("hw", "model", "sweep", "mapping", "cascade-mapping", "energy", "dram")
VALIDATORS = {fmt: schema_of(fmt) for fmt in FORMATS}
DOLLAR_SCHEMA = ("hw", "model", "sweep")  # the formats whose readers accept a "$schema" key

# attnsim schema --help and README's schema section name every format.
help_text = subprocess.run([ATTNSIM, "schema", "--help"], capture_output=True, text=True).stdout
with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
    readme = f.read()
readme_section = readme[readme.index("### Schemas for editors"):readme.index("### Report")]
for fmt in FORMATS:
    if f"  {fmt}: " not in help_text or fmt not in help_text.split("\n")[0]:
        fail(f"attnsim schema --help does not list {fmt}")
    if f"| `{fmt}` |" not in readme_section:
        fail(f"README's schema section does not list {fmt}")


def emitted_mappings():
    """The mapping files attnsim prints: each attention variant's ops on a small model, and a GEMM."""
    out = []
    runs = [["run", "--hw", "edge", "--model", "lra-text", "--seq-len", "256", "--variant", v]
            for v in ("flash", "row_fused", "unfused", "primal", "primal_causal", "lowrank_linear", "linformer",
                      "performer", "nystromformer")]
    runs.append(["run", "--hw", "fusemax-cloud", "--model", "lra-text", "--seq-len", "256", "--variant", "fused"])
    runs.append(["gemm", "--hw", "cloud", "--m", "512", "--k", "256", "--n", "384"])
    for args in runs:
        r = subprocess.run([ATTNSIM] + args + ["--emit", "mapping"], capture_output=True, text=True, cwd=ROOT)
        if r.returncode != 0:
            fail(f"{' '.join(args)} --emit mapping exits {r.returncode}: {r.stderr.strip()[:300]}")
            continue
        out.append((" ".join(args), json.loads(r.stdout)))
    return out

# --- Every document of the repository validates --------------------------------------------------
REPO_FILES = {
    "hw": sorted(glob.glob(os.path.join(ROOT, "configs/presets/*.json"))),
    "model": sorted(glob.glob(os.path.join(ROOT, "models/*.json"))),
    "sweep": sorted(glob.glob(os.path.join(ROOT, "configs/sweeps/*.json"))),
    # fuzz/corpus/mapping/model_partial.json leaves an op's kind out: a bad document (CASES below).
    "mapping": sorted(glob.glob(os.path.join(ROOT, "fuzz/corpus/mapping/model_emitted*.json"))),
    "cascade-mapping": sorted(glob.glob(os.path.join(ROOT, "fuzz/corpus/mapping/cascade_*.json"))),
    "energy": sorted(glob.glob(os.path.join(ROOT, "configs/energy/*.json"))),
    "dram": sorted(glob.glob(os.path.join(ROOT, "configs/dram/*.json"))),
}


def check_valid(fmt, name, doc):
    variants = [doc]
    if fmt in DOLLAR_SCHEMA:
        variants.append(dict(doc, **{"$schema": f"attnsim-{fmt}.schema.json"}))
    for d in variants:
        errors = [e.message for e in VALIDATORS[fmt].iter_errors(d)]
        if errors:
            fail(f"{name} as {fmt} ({'with' if '$schema' in d else 'without'} $schema): {errors[:3]}")
    if fmt == "mapping":  # each op's cascade mapping is a cascade mapping file too
        for op, m in doc.get("ops", {}).items():
            if isinstance(m, dict) and m.get("kind") == "cascade":
                check_valid("cascade-mapping", f"{name} /ops/{op}/mapping", m["mapping"])


counted = 0
for fmt, files in REPO_FILES.items():
    if not files:
        fail(f"no {fmt} files found")
    for path in files:
        with open(path) as f:
            check_valid(fmt, os.path.relpath(path, ROOT), json.load(f))
        counted += 1
emitted = emitted_mappings()
kinds = set()
for name, doc in emitted:
    check_valid("mapping", name + " --emit mapping", doc)
    kinds |= {m.get("kind") for m in doc["ops"].values()}
    counted += 1
if not {"gemm", "cascade", "fused"} <= kinds:  # flash and row_fused are user-written kinds
    fail(f"the emitted mappings hold only the kinds {sorted(kinds)}")

# --- Bad documents ---------------------------------------------------------------------------------
HW = {"array": {"rows": 32, "cols": 16, "dataflow": "ws", "timing": "scalesim", "clock_mhz": 1000},
      "sram": {"banks": 8, "bytes_per_bank": 65536, "port_bytes": 32},
      "dram": {"model": "ideal", "bytes_per_cycle": 16, "latency_cycles": 100}}
MODEL = {"description": "t", "dtype": "fp16",
         "defaults": {"d_model": 128, "heads": 4, "head_dim": 32, "seq_len": 256, "batch": 1,
                      "ffn": {"width": 256, "activation": "gelu"}, "attention": {"variant": "flash"}},
         "layers": [{"repeat": 2}, {"heads": 2, "head_dim": 64}]}
SWEEP = {"hardware": "edge", "model": "lra-text",
         "axes": [{"path": "/attention/variant", "values": ["unfused", "flash"]}]}
# A GEMM's tiles fixed and flash attention as a cascade mapping (run on edge, lra-text, N = 512).
MAPPING = {"mapping_version": 1,
           "ops": {"L0.qkv_proj": {"kind": "gemm", "tile": {"m": 64, "k": 64, "n": 64}},
                   "L0.attention": {"kind": "cascade", "mapping": {
                       "cascade": "vanilla",
                       "groups": [{"steps": ["S", "P", "O"], "loops": [{"rank": "m", "tile": 64}, {"rank": "p", "tile": 64}]}],
                       "buffers": {"S": 2}, "units": {"S": "array", "P": "softmax", "O": "array"}}}}}
# Flash on vanilla attention, given as a model's cascade mapping file (edge, N = 512, d = 32).
CASCADE_MAPPING = {"// why": "flash, K and V streamed by key tiles", "cascade": "vanilla",
                   "groups": [{"steps": ["S", "P", "O"], "loops": [{"rank": "m", "tile": 64}, {"rank": "p", "tile": 64}]}],
                   "buffers": {"S": 2, "K": 2}, "placement": {"S": {"bank": 4}}, "units": {"S": "array", "P": "softmax"}}


def repo_json(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return json.load(f)


BASES = {"hw": HW, "model": MODEL, "sweep": SWEEP, "mapping": MAPPING, "cascade-mapping": CASCADE_MAPPING,
         "energy": repo_json("configs/energy/45nm.json"), "dram": repo_json("configs/dram/ddr4-3200.json")}
ABSENT = object()


def edited(base, edits):
    doc = copy.deepcopy(base)
    for pointer, value in edits:
        parts = pointer.lstrip("/").split("/")
        node = doc
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is ABSENT:
            del node[last]
        else:
            node[last] = value
    return doc


CROSS = "a rule across fields"
WORKLOAD = "a rule of the workload the mapping is used on"
HARDWARE = "a rule of the hardware the mapping runs on"
CASCADE = "a rule of the cascade the mapping is for"
# (format, edits or a whole document, None when the schema rejects it, else why it cannot)
CASES = [
    # tests/test_config.cpp
    ("hw", [("/array/dataflw", "os")], None),
    ("hw", [("/sramm", {})], None),
    ("hw", [("/array/rows", "32")], None),
    ("hw", [("/array/dataflow", 3)], None),
    ("hw", [("/array/dataflow", "wss")], None),
    ("hw", [("/sram/bytes_per_bank", -65536)], None),
    ("hw", [("/array/rows", 18446744073709551615)], None),
    ("hw", [("/array/clock_mhz", 0)], None),
    ("hw", [("/sram/banks", 0)], None),
    ("hw", [("/array/rows", ABSENT)], None),
    ("hw", [("/array/rows", -1), ("/array/colls", 8), ("/sram/banks", 0), ("/dram/bytes_per_cycle", "fast")], None),
    ("hw", [("/array/rows", 128), ("/array/cols", 128), ("/array/fidelity", "pe")],
     CROSS + ": the pe model needs rows x cols <= 4096"),
    ("hw", [("/sram/interleave_bytes", 96)], "a power of two is not expressible in JSON Schema"),
    ("hw", [("/sram/interleave_bytes", 16)], CROSS + ": at least 64 B or a multiple of port_bytes"),
    ("hw", [("/sram/interleave_bytes", 131072)], CROSS + ": at most bytes_per_bank"),
    ("hw", [("/sram/bytes_per_bank", 12288), ("/sram/interleave_bytes", 8192)], CROSS + ": must divide bytes_per_bank"),
    ("hw", [("/sram/interleave_bytes", -64)], None),
    ("hw", [("/accumulators", {"bytes": 32, "port_bytes": 0, "wide": True})], None),
    ("hw", [("/accumulators", 5)], None),
    ("hw", [("/array/gemm_chaining", True)], CROSS + ": gemm_chaining needs timing overlapped"),
    ("hw", [("/array/gemm_chaining", "yes")], None),
    ("hw", [("/softmax", {"lanes": 16, "exp_per_cycle": 32})], CROSS + ": exp_per_cycle at most lanes"),
    ("hw", [("/vector/cost", {"exp": 0})], None),
    ("hw", [("/dram", {"model": "ideal", "bytes_per_cycle": 16, "preset": "ddr4-3200"})], None),
    ("hw", [("/dram", {"model": "cycle", "bytes_per_cycle": 16})], None),
    ("hw", [("/dram", {"model": "hbm"})], None),
    # tests/test_bad_inputs.cpp: the refresh rule, and a DRAM preset that names no device
    ("hw", [("/dram", {"model": "cycle", "preset": "ddr4-3200", "timing": {"tREFI": 640}})],
     CROSS + ": tREFI must exceed a sum of the device's other timings"),
    ("hw", [("/dram", {"model": "cycle", "preset": "ddr9"})], "the preset must name a DRAM preset or an existing file"),
    ("hw", [("/dram", {"model": "cycle", "preset": "ddr4-3200", "timing": {"tRFC2": 5}})], None),
    ("hw", [("/dram", {"model": "cycle", "preset": "ddr4-3200", "channels": 3})],
     "a power of two is not expressible in JSON Schema"),
    ("hw", [("/dram", {"model": "cycle", "preset": "ddr4-3200", "write_high": 40})], CROSS + ": write_high <= write_queue"),
    ("hw", [("/dram", {"model": "cycle", "preset": "ddr4-3200", "mapping": "RoBaXX"})],
     "the mapping string's fields are checked against the device's organization"),
    ("hw", [("/description", 7)], None),
    # tests/test_model_config.cpp
    ("model", "[]", None),
    ("model", [("/layer", [])], None),
    ("model", [("/defaults/head", 4)], None),
    ("model", [("/layers/1/seqlen", 4)], None),
    ("model", [("/defaults/ffn/widht", 4)], None),
    *[("model", [(f"/layers/1/{k}", v)], None)
      for k in ("d_model", "heads", "head_dim", "seq_len", "batch") for v in (0, -1)],
    ("model", [("/layers/0/repeat", 0)], None),
    ("model", [("/defaults/ffn/width", 0)], None),
    ("model", [("/layers/1/heads", 18446744073709551615)], None),
    ("model", [("/defaults/seq_len", (1 << 20) + 1)], None),
    ("model", [("/defaults/d_model", (1 << 16) + 1)], None),
    ("model", [("/defaults/heads", 4097)], None),
    ("model", [("/defaults/head_dim", 4097)], None),
    ("model", [("/defaults/batch", 65537)], None),
    ("model", [("/defaults/heads", "4")], None),
    ("model", [("/defaults/heads", 4.5)], None),
    ("model", [("/dtype", "fp-16")], None),
    ("model", [("/layers/1/attention", {"variant": "flsh"})], None),
    ("model", [("/defaults/attention/variant", "rowfused")], None),
    ("model", [("/defaults/attention", {})], None),
    ("model", [("/defaults/attention/variant", 3)], None),
    ("model", [("/defaults/attention/rank", 20)], None),
    ("model", [("/layers/1/attention", {"variant": "unfused", "varient": "x"})], None),
    ("model", [("/defaults/attention", {"variant": "primal-causal", "samples": 4})], None),
    ("model", [("/defaults/attention", {"variant": "primal", "rank": 0})], None),
    ("model", [("/defaults/attention", {"variant": "cascade"})], None),
    ("model", [("/defaults/attention", {"variant": "cascade", "file": "no/such/cascade.json"})],
     "the cascade file must exist"),
    ("model", [("/defaults/ffn/activation", "gelu2")], None),
    ("model", [("/layers/1/norm", "batchnorm")], None),
    ("model", [("/layers/1/norm_position", "middle")], None),
    ("model", [("/layers/1/causal", "yes")], None),
    ("model", [("/layers/1/ffn", {"width": 100})], None),
    ("model", [("/defaults/ffn", 256)], None),
    ("model", [("/defaults/heads", ABSENT)], CROSS + ": each size in the layer or in the defaults"),
    ("model", [("/defaults/ffn", ABSENT)], CROSS + ": ffn in the layer or in the defaults"),
    ("model", [("/defaults/attention", ABSENT)], CROSS + ": attention in the layer or in the defaults"),
    ("model", [("/layers", [])], None),
    ("model", [("/layers", {})], None),
    ("model", [("/layers/1", 3)], None),
    ("model", [("/layers", ABSENT)], None),
    ("model", [("/defaults/repeat", 2)], None),
    ("model", [("/layers/1/d_model", 256), ("/layers/1/heads", 8)], CROSS + ": every layer keeps the first's d_model"),
    ("model", [("/layers/1/heads", 3), ("/layers/1/attention", {"variant": "primal"})],
     CROSS + ": primal needs heads x head_dim = d_model"),
    ("model", [("/defaults/causal", True), ("/defaults/attention", {"variant": "linformer"})],
     CROSS + ": a causal layer takes a variant with a causal form"),
    ("model", [("/defaults/seq_len", 1 << 20), ("/defaults/batch", 32)], CROSS + ": batch x seq_len <= 2^24"),
    ("model", [("/layers/0/repeat", 4096)], CROSS + ": at most 4096 layers after repeats"),
    # tests/test_sweep.cpp
    ("sweep", [("/bogus", 1)], None),
    ("sweep", [("/axes", [{"path": "/array/rows", "values": [0, 16], "nam": "x"}])], None),
    ("sweep", [("/axes", [{"zip": [{"path": "/array/rows", "values": [16, 32]}, {"path": "/array/cols", "values": [16]}]}])],
     CROSS + ": zipped axes have equal lengths"),
    ("sweep", [("/axes", [{"zip": [{"path": "/array/rows", "values": [16]}]}])], None),
    ("sweep", [("/axes", [{"path": "/attention/variant", "values": ["unfused", "flashy"]}])],
     "a value must suit the document its path names (the variant list of the model format)"),
    ("sweep", [("/axes", [{"path": "/model/seq_len", "values": [256, -3]}])],
     "a value must suit the document its path names"),
    ("sweep", [("/axes", [{"path": "/array/rowz", "values": [16]}])],
     "a path must name a key of the hardware or model document"),
    ("sweep", [("/axes", [{"path": "array/rows", "values": [16]}])], None),
    ("sweep", [("/axes", [{"path": "/array/rows", "values": []}])], None),
    ("sweep", [("/axes", [{"values": [16]}])], None),
    ("sweep", [("/axes", [{"points": [{"label": "a", "set": {"/array/rows": 16}}]}])], None),
    ("sweep", [("/axes", [{"name": "p", "points": [{"label": "a", "set": {"array/rows": 16}}]}])], None),
    ("sweep", [("/axes", [{"name": "p", "points": [{"label": "a", "set": {}}]}])], None),
    ("sweep", [("/axes", [{"zip": [{"path": "/array/rows", "values": [16]}, {"path": "/array/cols", "values": [16]}],
                           "points": []}])], None),
    ("sweep", [("/axes", [])], None),
    ("sweep", [("/axes", ABSENT)], None),
    ("sweep", [("/timeout_s", -1)], None),
    ("sweep", [("/trace", {"formats": ["svg"]})], None),
    ("sweep", [("/trace", {"formats": []})], None),
    ("sweep", [("/axes", [{"path": "/array/rows", "values": [16]}, {"path": "/sram/rows", "values": [16]}])],
     CROSS + ": two axes may not share a name"),
    # tests/test_mapper.cpp (run --variant flash)
    ("mapping", [("/ops", {"L0.atention": {"kind": "flash"}})], WORKLOAD + ": an op name must be one of its ops"),
    ("mapping", [("/ops", {"L0.attention": {"kind": "gemm"}})], WORKLOAD + ": the kind must be the op's"),
    ("mapping", [("/ops/L0.qkv_proj/tile/m", 100000)], WORKLOAD + ": a tile factor at most the op's dimension"),
    ("mapping", [("/ops/L0.qkv_proj/tile", {"x": 4})], None),
    ("mapping", [("/ops/L0.qkv_proj/loop_order", ["k", "m", "n"])], None),
    ("mapping", [("/ops", {"L0.attention": {"kind": "flash", "tile": {"m": 512, "p": 512}}})],
     HARDWARE + ": the tiles must fit the SRAM"),
    ("mapping", [("/ops/L0.qkv_proj/resident", ["A", "C"])], None),
    ("mapping", [("/mapping_version", 2)], None),
    ("mapping", [("/mapping_version", ABSENT), ("/ops", {"L0.qkv_proj": {"kind": "conv"}})], None),
    ("mapping", [("/ops", {"L0.attention.global": {"kind": "gemm"}})],
     WORKLOAD + ": a cascade's global phase takes no mapping of its own", "linformer"),
    ("mapping", '{"mapping_version": 1, "ops": {"L0.attention": {"kind": "flash", "tile": {"m": 16}}, '
                '"L1.attention": {"kind": "row_fused"}, "L0.qkv_proj": {"loop_order": ["n", "m", "k"]}}}', None),
    # tests/test_cascade_search.cpp and test_lowrank_mapper.cpp: a cascade mapping inside an op
    ("mapping", [("/ops/L0.attention/mapping/groups/0/loops/0/rank", "q"), ("/ops/L0.attention/mapping/buffers/S", 65537)],
     None),
    ("mapping", [("/ops/L0.attention/mapping/groups/0/loops/0/rank", "q")], CASCADE + ": a rank must be the cascade's"),
    ("mapping", [("/ops/L0.attention/mapping/groups/0/resident", ["K", "S"])],
     CASCADE + ": only the group's DRAM inputs can be resident"),
    ("mapping", [("/ops/L0.attention/mapping/groups/0/loops", [])], HARDWARE + ": the buffers must fit the SRAM"),
    ("mapping", [("/ops/L0.attention", {"kind": "cascade", "mapping": {
        "cascade": "primal", "groups": [{"steps": ["Xs", "WeT", "WrT"], "loops": []},
                                        {"steps": ["Qn", "Kn", "E", "R", "Eo", "Ro", "Y", "O"],
                                         "loops": [{"rank": "q", "tile": 64}]}], "buffers": {"E": 65537}}})], None, "primal"),
    ("mapping", [("/ops/L0.attention", {"kind": "flash", "tile": {"m": 64}})],
     WORKLOAD + ": the kind must be the op's", "lowrank_linear"),
    # tests/test_fused_mapping.cpp: attention fused in the array (run on fusemax-cloud)
    ("mapping", [("/ops/L0.attention", {"kind": "fused", "buffers": {"Q": 9, "K": 3}})], None, "fused"),
    ("mapping", [("/ops/L0.attention", {"kind": "fused", "units": {"P": "gpu"}})], None, "fused"),
    ("mapping", [("/ops/L0.attention", {"kind": "fused", "resident": ["K", "Q"]})], None, "fused"),
    ("mapping", [("/ops/L0.attention", {"kind": "fused", "causal": "no"})], None, "fused"),
    ("mapping", [("/ops/L0.attention", {"kind": "fused", "loop_order": ["m", "n", "k"]})], None, "fused"),
    ("mapping", [("/ops/L0.attention", {"kind": "fused", "units": {"P": "softmax"}})],
     HARDWARE + ": the fused binding runs the softmax in the PEs", "fused"),
    ("mapping", [("/ops/L0.attention", {"kind": "fused", "tile": {"p": 64}})],
     HARDWARE + ": the key tile is the array's cols", "fused"),
    ("mapping", [("/ops/L0.attention", {"kind": "fused", "resident": ["K"]})],
     HARDWARE + ": the fused schedule keeps K and V on chip", "fused"),
    ("mapping", [("/ops/L0.attention", {"kind": "fused", "causal": True})],
     WORKLOAD + ": causal must be the layer's", "fused"),
    ("mapping", [("/ops/L0.attention", {"kind": "fused"})], WORKLOAD + ": the kind must be the op's"),
    # Every other rule of the format
    ("mapping", [("/ops/L0.attention", {"kind": "flash", "loop_order": ["m", "n", "k"]})], None),
    ("mapping", [("/ops/L0.attention", {"kind": "flash", "lead_block": 1})], None),
    ("mapping", [("/ops/L0.attention", {"kind": "row_fused", "tile": {"p": 64}})], None),
    ("mapping", [("/ops/L0.qkv_proj/lead_block", 3)], None),
    ("mapping", [("/ops/L0.qkv_proj/resident", ["A", "A"])], None),
    ("mapping", [("/ops/L0.qkv_proj/tile/m", 0)], None),
    ("mapping", [("/ops/L0.qkv_proj/kind", ABSENT)], None),
    ("mapping", [("/ops/L0.qkv_proj/tiles", {"m": 64})], None),
    ("mapping", [("/ops/L0.qkv_proj", 5)], None),
    ("mapping", [("/ops/L0.attention/mapping", ABSENT)], None),
    ("mapping", [("/ops/L0.attention/tile", {"m": 64})], None),
    ("mapping", [("/ops", ABSENT)], None),
    ("mapping", [("/ops", [])], None),
    ("mapping", "[]", None),
    # tests/test_cascade.cpp, as a model's cascade mapping file (cascade vanilla on edge, N = 512)
    ("cascade-mapping", [("/groups/0/loops/0/rank", "mm"), ("/buffers/S", 65537)], None),
    ("cascade-mapping", [("/groups/0/loops/0/rank", "mm")], CASCADE + ": a rank must be the cascade's"),
    ("cascade-mapping", [("/groups/0/resident", ["KK", 3])], None),
    ("cascade-mapping", [("/groups/0/resident", "K")], None),
    ("cascade-mapping", [("/groups/0/resident", ["KK"])], CASCADE + ": a tensor must be the cascade's"),
    # split-K (cascade/mapping.h, splits)
    ("cascade-mapping", [("/groups/0/splits", 0)], None),
    ("cascade-mapping", [("/groups/0/splits", 17)], None),
    ("cascade-mapping", [("/groups/0/splits", "2")], None),
    ("cascade-mapping", [("/groups/0/loops", [{"rank": "m", "tile": 64}]), ("/groups/0/splits", 2)],
     CASCADE + ": split-K splits an online softmax's key loop"),
    ("cascade-mapping", [("/groups/0/splits", 9)], CASCADE + ": at most the key tiles (512 / 64)"),
    ("mapping", [("/ops/L0.attention/mapping/groups/0/splits", 1.5)], None),
    ("cascade-mapping", [("/cascade", "primal")], CASCADE + ": the mapping's cascade must be the one it is used with"),
    ("cascade-mapping", [("/groups", [{"steps": ["P", "S", "O"]}])], CASCADE + ": steps in cascade order"),
    ("cascade-mapping", [("/units/P", "vector")], HARDWARE + ": the unit must be the hardware's (edge has a softmax unit)"),
    ("cascade-mapping", [("/placement/S", {"bank": 99})], HARDWARE + ": a bank below the hardware's banks (16)"),
    ("cascade-mapping", [("/placement/S", {"at": [1 << 40]})], HARDWARE + ": an address inside the on-chip bytes"),
    ("cascade-mapping", [("/grups", [])], None),
    ("cascade-mapping", [("/groups", [])], None),
    ("cascade-mapping", [("/groups", {})], None),
    ("cascade-mapping", [("/groups/0", 3)], None),
    ("cascade-mapping", [("/groups/0/steps", ABSENT)], None),
    ("cascade-mapping", [("/groups/0/steps", ["S", 3])], None),
    ("cascade-mapping", [("/groups/0/loops", {"rank": "m"})], None),
    ("cascade-mapping", [("/groups/0/loops/0", {"rank": "m"})], None),
    ("cascade-mapping", [("/groups/0/loops/0/tile", 0)], None),
    ("cascade-mapping", [("/groups/0/loops/0/size", 8)], None),
    ("cascade-mapping", [("/groups/0/stream", {"p": 0})], None),
    ("cascade-mapping", [("/groups/0/stream", [64])], None),
    ("cascade-mapping", [("/buffers/K", 1.5)], None),
    ("cascade-mapping", [("/buffers", [2])], None),
    ("cascade-mapping", [("/placement/S", {"bank": 1, "at": [0]})], None),
    ("cascade-mapping", [("/placement/S", {})], None),
    ("cascade-mapping", [("/placement/S", {"at": [100]})], None),
    ("cascade-mapping", [("/placement/S", {"at": []})], None),
    ("cascade-mapping", [("/placement/S", {"at": [64 * i for i in range(65537)]})], None),
    ("cascade-mapping", [("/placement/S", {"bank": -1})], None),
    ("cascade-mapping", [("/placement/S", {"slot": 1})], None),
    ("cascade-mapping", [("/units/S", "gpu")], None),
    ("cascade-mapping", [("/cascade", 3)], None),
    ("cascade-mapping", "[1]", None),
    # tests/test_energy.cpp, and every other rule of an energy table
    ("energy", [("/energy/mac_pj/int8/value", -0.3), ("/energy/dma_pj_per_byte/source", ""),
                ("/area/dma_mm", {"value": 1, "source": "x"})], None),
    ("energy", [("/energy/mac_pj/int8/value", -0.3)], None),
    ("energy", [("/energy/dma_pj_per_byte/source", "")], None),
    ("energy", [("/area/dma_mm", {"value": 1, "source": "x"})], None),
    ("energy", [("/energy/mac_pj/int8/value", 1e8)], None),
    ("energy", [("/energy/mac_pj/int8/value", "0.3")], None),
    ("energy", [("/energy/mac_pj/int8/source", ABSENT)], None),
    ("energy", [("/energy/mac_pj/int8/units", "pJ")], None),
    ("energy", [("/energy/mac_pj/fp64", {"value": 9, "source": "x"})], None),
    ("energy", [("/energy/mac_pj/fp32", ABSENT)], None),
    ("energy", [("/energy/sram_read_pj/capacity_exponent", 3)], None),
    ("energy", [("/energy/sram_read_pj/ref_width_bytes", 0)], None),
    ("energy", [("/area/sram_um2_per_byte/source", ABSENT)], None),
    ("energy", [("/area/dram_phy_mm2_per_GBps/hbm3", ABSENT)], None),
    ("energy", [("/node_nm", 0)], None),
    ("energy", [("/node_nm", ABSENT)], None),
    ("energy", [("/area", ABSENT)], None),
    ("energy", [("/description", 45)], None),
    # tests/test_bad_inputs.cpp and test_dram_presets.cpp, and every other rule of a DRAM device
    ("dram", [("/timing/tCK_ps", 1e-10)], None),
    ("dram", [("/timing/tCK_ps", 1e6)], None),
    ("dram", [("/timing/tREFI", 670)], CROSS + ": tREFI must exceed a sum of the other timings"),
    ("dram", [("/timing/tCK_ps", 625.0000001)], "a whole number of femtoseconds: multipleOf 0.001 is not exact in "
                                                 "binary floating point, so validators disagree on it"),
    ("dram", [("/timing/tRC", 40)], CROSS + ": tRC >= tRAS"),
    ("dram", [("/timing/tCCD_L", 2)], CROSS + ": tCCD_L >= tCCD_S"),
    ("dram", [("/organization/rows", 65535)], "a power of two is not expressible in JSON Schema"),
    ("dram", [("/organization/burst_length", 3)], None),
    ("dram", [("/organization/columns", 4)], CROSS + ": columns >= burst_length"),
    ("dram", [("/organization/banks", 4)], None),
    ("dram", [("/organization/bank_groups", 0)], None),
    ("dram", [("/timing/tRFC2", 5)], None),
    ("dram", [("/timing/tRCD", ABSENT)], None),
    ("dram", [("/timing/tFAW", -1)], None),
    ("dram", [("/controller/write_high", 40)], CROSS + ": write_high <= write_queue"),
    ("dram", [("/controller/channels", 3)], "a power of two is not expressible in JSON Schema"),
    ("dram", [("/controller/mapping", "RoBaXX")], "the mapping string's fields are checked against the organization"),
    ("dram", [("/controller/read_queue", 0)], None),
    ("dram", [("/controller/fast_path", True)], None),
    ("dram", [("/standard", ABSENT)], None),
    ("dram", [("/speed_grade", 3200)], None),
]


def attnsim_rejects(fmt, path, variant="flash"):
    """attnsim's exit status and message on the document at path, read as the format says."""
    run = ["run", "--hw", "fusemax-cloud" if variant == "fused" else "edge", "--model", "lra-text", "--seq-len", "512",
           "--emit", "mapping"]
    if fmt == "mapping":
        args = run + ["--variant", variant, "--mapping", path]
    elif fmt == "cascade-mapping":  # a model whose attention is vanilla's cascade with this mapping
        model = dict(MODEL, layers=[{}])
        model["defaults"] = dict(MODEL["defaults"], d_model=64, heads=2, head_dim=32, seq_len=512, attention={
            "variant": "cascade", "file": os.path.join(ROOT, "models/cascades/vanilla.json"), "mapping": path})
        args = run[:3] + ["--model", write_beside(path, "model", model), "--emit", "mapping"]
    elif fmt == "energy":
        args = ["check", write_beside(path, "hw", dict(HW, energy={"file": path}))]
    elif fmt == "dram":
        args = ["check", write_beside(path, "hw", dict(HW, dram={"model": "cycle", "preset": path}))]
    else:
        args = {"hw": ["check", path], "model": ["check", "edge", "--model", path],
                "sweep": ["sweep", path, "--dry-run"]}[fmt]
    r = subprocess.run([ATTNSIM] + args, capture_output=True, text=True, cwd=ROOT)
    return r.returncode, r.stderr


def write_beside(path, what, doc):
    """A document that names the one at path (a hardware config, a model), written next to it."""
    other = f"{os.path.splitext(path)[0]}.{what}.json"
    with open(other, "w") as f:
        json.dump(doc, f)
    return other


rejected = cannot = 0
with tempfile.TemporaryDirectory() as tmp:
    for i, (fmt, edits, why, *variant) in enumerate(CASES):
        if isinstance(edits, str):
            text = edits
            doc = json.loads(text)
        else:
            doc = edited(BASES[fmt], edits)
            text = json.dumps(doc)
        path = os.path.join(tmp, f"case{i}.json")
        with open(path, "w") as f:
            f.write(text)
        name = f"{fmt} case {i} {edits if isinstance(edits, str) else [(p, v) for p, v in edits]}"
        status, err = attnsim_rejects(fmt, path, *variant)
        if status != 2:
            fail(f"{name}: attnsim exits {status}, not 2: {err.strip()[:300]}")
        elif fmt in ("mapping", "cascade-mapping", "energy") and path not in err:
            # Read through another document: the problem must be this one's (a DRAM device's rules
            # across fields are reported at the hardware config's /dram, the values it resolved).
            fail(f"{name}: attnsim's message does not name the file: {err.strip()[:300]}")
        schema_errors = list(VALIDATORS[fmt].iter_errors(doc))
        if why is None and not schema_errors:
            fail(f"{name}: attnsim rejects it ({err.strip()[:200]}) but the schema accepts it")
        elif why is not None and schema_errors:
            fail(f"{name}: listed as not expressible ({why}) but the schema rejects it: {schema_errors[0].message}")
        rejected += why is None
        cannot += why is not None
    # The base documents themselves are valid for both, with a "$schema" key too.
    for fmt, base in BASES.items():
        for doc in (base, dict(base, **{"$schema": f"attnsim-{fmt}.schema.json"})) if fmt in DOLLAR_SCHEMA else (base,):
            path = os.path.join(tmp, f"base_{fmt}.json")
            with open(path, "w") as f:
                json.dump(doc, f)
            status, err = attnsim_rejects(fmt, path)
            if status != 0:
                fail(f"base {fmt} document {list(doc)}: attnsim exits {status}: {err.strip()[:300]}")
            if list(VALIDATORS[fmt].iter_errors(doc)):
                fail(f"base {fmt} document {list(doc)}: the schema rejects it")

print(f"{counted} repository documents valid; {len(CASES)} bad documents rejected by attnsim: "
      f"{rejected} by the schema too, {cannot} not expressible in a schema (reason given)")
if failures:
    print(f"{len(failures)} failures")
    sys.exit(1)
