#!/usr/bin/env python3
"""Runs every command example of README.md and checks that each exits 0.

An example is a line of an indented code block that starts with build/attnsim, scripts/ or
/usr/bin/python3 scripts/ (a trailing backslash continues it on the next line; a '#' after
whitespace starts a comment). They run in order, each through bash in one scratch folder that links
the repository's build/, configs/, models/, traces/, scripts/ and tests/ (SCALE-Sim's sample
workloads are in tests/data/scalesim), so an example may use what an
earlier one wrote (out/s1 of the sweep example, m.json of --emit mapping), as a reader following
the page would. Skipped, with the reason printed: the set-up scripts (they install packages and
build: the CI runs them anyway), the fuzzers (minutes each) and the Slurm submission (it needs a
cluster; tests/slurm_integration.sh covers it).

Run by ctest; by hand: /usr/bin/python3 tests/test_readme_examples.py [BUILD_DIR]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SKIP = {
    "scripts/run.sh": "the main job: installs, builds and runs everything (CI and the README's own check)",
    "scripts/test.sh": "the test suite itself",
    "scripts/fuzz.sh": "fuzzing, minutes per harness (CI runs it)",
    "scripts/slurm_sweep.sh": "needs a Slurm cluster (tests/slurm_integration.sh runs one)",
}
PREFIXES = ("build/attnsim", "scripts/", "/usr/bin/python3 scripts/")


def examples(readme):
    out = []
    pending = None
    in_block = False
    prev_blank = True
    for n, line in enumerate(open(readme, encoding="utf-8").read().split("\n"), 1):
        indented = line.startswith("    ")
        if indented and (prev_blank or in_block):
            in_block = True
        elif line.strip():
            in_block = False
        prev_blank = not line.strip()
        if not (in_block and indented):
            continue
        text = line[4:]
        if pending is not None:
            pending[1] += " " + text.strip()
        elif text.startswith(PREFIXES) and re.match(r"(build/attnsim|(/usr/bin/python3 )?scripts/\S+\.(sh|py))(\s|$)", text):
            pending = [n, text.strip()]
        else:
            continue
        if pending[1].endswith("\\"):
            pending[1] = pending[1][:-1].rstrip()
            continue
        cmd = re.sub(r"\s+#.*$", "", pending[1])
        out.append((pending[0], cmd))
        pending = None
    return out


def main():
    build = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, "build")
    work = tempfile.mkdtemp(prefix="readme-examples-")
    os.symlink(build, os.path.join(work, "build"))
    for d in ("configs", "models", "traces", "scripts", "tests"):
        os.symlink(os.path.join(ROOT, d), os.path.join(work, d))
    failures = []
    found = examples(os.path.join(ROOT, "README.md"))
    if len(found) < 20:
        print("FAIL  found only %d examples in README.md: is the parser right?" % len(found))
        sys.exit(1)
    total = time.time()
    for line, cmd in found:
        script = cmd.split()[0] if not cmd.startswith("/usr/bin/python3") else cmd.split()[1]
        if script in SKIP:
            print("skip  README.md:%d  %s  (%s)" % (line, cmd, SKIP[script]))
            continue
        t0 = time.time()
        p = subprocess.run(["bash", "-c", cmd], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        took = time.time() - t0
        ok = p.returncode == 0
        print("%s  README.md:%d  %.1f s  %s" % ("ok  " if ok else "FAIL", line, took, cmd))
        if not ok:
            print("      exit %d; stderr: %s" % (p.returncode, p.stderr.strip()[-800:]))
            failures.append(line)
    print("%d examples, %d failed, %.0f s" % (len(found), len(failures), time.time() - total))
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
