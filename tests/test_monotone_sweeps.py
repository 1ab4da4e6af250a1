#!/usr/bin/env python3
"""More of a resource never costs cycles (issue property): the two sweeps that check it, simulated whole
and read by scripts/check_monotone.py, which must find no violation.

  configs/sweeps/design.json (edge, LRA text, N = 4096): 4 variants x 4 arrays (8x8 .. 64x64, rows and
    cols zipped) x 4 bank sizes (8 KiB .. 512 KiB, 16 banks) = 64 points. Neighbouring pairs: along
    the bank size, 3 in each of the 4 x 4 (variant, array) groups = 48; along the array, 3 in each of
    the 4 x 4 (variant, bank size) groups = 48; 96 in all.
  configs/sweeps/cloud_sram.json (cloud, LRA text): 3 variants x 5 bank sizes (64 banks of 64 KiB ..
    1 MiB: 4 .. 64 MiB) x 3 lengths (1024, 4096, 16384) = 45 points; along the bank size 4 pairs in
    each of the 3 x 3 (variant, length) groups = 36.

Each sweep's every point must simulate (status ok). About two minutes on two cores.
Run by ctest; by hand: /usr/bin/python3 tests/test_monotone_sweeps.py [BUILD_DIR]
"""
import csv
import os
import subprocess
import sys
import tempfile

from script_checks import check, finish, run_script  # tests/, beside this file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, "build")
ATTNSIM = os.path.join(BUILD, "attnsim")
CHECK = os.path.join(ROOT, "scripts", "check_monotone.py")

SWEEPS = [
    ("design.json", 64, 96, ["axis.bank_bytes", "axis.rows+axis.cols"]),
    ("cloud_sram.json", 45, 36, ["axis.bank_bytes"]),
]


def main():
    root = tempfile.mkdtemp(prefix="attnsim_monotone_")
    jobs = str(max(1, min(os.cpu_count() or 1, 4)))
    for spec, points, pairs, resources in SWEEPS:
        out = os.path.join(root, spec.replace(".json", ""))
        p = subprocess.run([ATTNSIM, "sweep", os.path.join(ROOT, "configs", "sweeps", spec), "--out", out, "-j", jobs],
                           capture_output=True, text=True, cwd=ROOT)
        check(p.returncode == 0, "%s: the sweep exits 0 (status %d; %s)" % (spec, p.returncode, p.stderr.strip()[-400:]))
        results = os.path.join(out, "results.csv")
        rows = []
        if os.path.exists(results):
            with open(results, newline="") as f:
                rows = list(csv.DictReader(f))
        ok = sum(1 for r in rows if r["status"] == "ok")
        check(ok == points, "%s: %d of %d points ok" % (spec, ok, points))
        args = [results]
        for r in resources:
            args += ["--resource", r]
        status, stdout, stderr = run_script(CHECK, *args)
        print(stdout.strip())
        check(status == 0, "%s: check_monotone exits 0 (status %d; %s)" % (spec, status, stderr.strip()))
        want = "0 violations in %d pairs of neighbouring points" % pairs
        check(want in stdout, "%s: '%s'" % (spec, want))
    return finish(root)


if __name__ == "__main__":
    sys.exit(main())
