#!/usr/bin/env python3
"""`attnsim schema hw|model|sweep` checked with a real JSON Schema validator (Debian's python3-jsonschema,
Draft 2020-12):
  - each schema is itself a valid draft 2020-12 schema, and printing it twice gives the same bytes;
  - every preset (configs/presets), model (models/*.json) and sweep spec (configs/sweeps) in the
    repository validates, and so does each with a "$schema" key (which attnsim accepts too: checked
    on the base documents below);
  - every bad document below is rejected by attnsim (exit 2: `check`, `check --model`,
    `sweep --dry-run`), and by the schema too, unless its row names why the rule cannot be written
    in a schema (rules across fields, or that need files or the hardware and model documents); such
    a row also checks that the schema does accept it, so that the reason stays true.
The bad documents are the cases of tests/test_config.cpp, test_model_config.cpp and
test_sweep.cpp, replayed on the same base documents.
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


VALIDATORS = {fmt: schema_of(fmt) for fmt in ("hw", "model", "sweep")}

# --- Every document of the repository validates --------------------------------------------------
REPO_FILES = {
    "hw": sorted(glob.glob(os.path.join(ROOT, "configs/presets/*.json"))),
    "model": sorted(glob.glob(os.path.join(ROOT, "models/*.json"))),
    "sweep": sorted(glob.glob(os.path.join(ROOT, "configs/sweeps/*.json"))),
}
counted = 0
for fmt, files in REPO_FILES.items():
    if not files:
        fail(f"no {fmt} files found")
    for path in files:
        with open(path) as f:
            doc = json.load(f)
        for d in (doc, dict(doc, **{"$schema": f"attnsim-{fmt}.schema.json"})):
            errors = [e.message for e in VALIDATORS[fmt].iter_errors(d)]
            if errors:
                fail(f"{os.path.relpath(path, ROOT)} ({'with' if '$schema' in d else 'without'} $schema): {errors[:3]}")
        counted += 1

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
BASES = {"hw": HW, "model": MODEL, "sweep": SWEEP}
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
]


def attnsim_rejects(fmt, path):
    args = {"hw": ["check", path], "model": ["check", "edge", "--model", path],
            "sweep": ["sweep", path, "--dry-run"]}[fmt]
    r = subprocess.run([ATTNSIM] + args, capture_output=True, text=True, cwd=ROOT)
    return r.returncode, r.stderr


rejected = cannot = 0
with tempfile.TemporaryDirectory() as tmp:
    for i, (fmt, edits, why) in enumerate(CASES):
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
        status, err = attnsim_rejects(fmt, path)
        if status != 2:
            fail(f"{name}: attnsim exits {status}, not 2: {err.strip()[:300]}")
        schema_errors = list(VALIDATORS[fmt].iter_errors(doc))
        if why is None and not schema_errors:
            fail(f"{name}: attnsim rejects it ({err.strip()[:200]}) but the schema accepts it")
        elif why is not None and schema_errors:
            fail(f"{name}: listed as not expressible ({why}) but the schema rejects it: {schema_errors[0].message}")
        rejected += why is None
        cannot += why is not None
    # The base documents themselves are valid for both, with a "$schema" key too.
    for fmt, base in BASES.items():
        for doc in (base, dict(base, **{"$schema": f"attnsim-{fmt}.schema.json"})):
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
