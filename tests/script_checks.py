"""What the Python tests of scripts/ share: the list of failed checks, a check that prints its verdict,
a script run with its exit status and output, and the ending that keeps a failed run's files."""
import shutil
import subprocess
import sys

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def run_script(script, *args, **kwargs):
    """Runs `python3 script args...`; returns (exit status, stdout, stderr)."""
    p = subprocess.run([sys.executable, script] + list(args), capture_output=True, text=True, **kwargs)
    return p.returncode, p.stdout, p.stderr


def finish(root=None):
    """The test's exit status: 1 when a check failed (root, the scratch folder, kept to look at), else 0
    (root removed)."""
    if failures:
        print("%d failure(s)%s" % (len(failures), "; files kept in %s" % root if root else ""))
        return 1
    if root:
        shutil.rmtree(root, ignore_errors=True)
    print("all passed")
    return 0
