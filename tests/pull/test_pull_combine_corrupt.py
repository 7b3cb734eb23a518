"""Issue 4, test 7 (second half): a worker data file that is garbage
(its SHA-256 in the manifest is right: it was shipped as it was written)
makes `pull --combine` fail with exit 5, naming the file, and write no
report. Controls: plain `coverage combine` on the same files only warns and
exits 0 (the percentage silently drops); the same bundle without the bad
file combines fine.

usage: test_pull_combine_corrupt.py COVSHIP APP_DIR"""
import glob
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import bundle_name, check, good_bundle, pull, run_id, scratch  # noqa: E402

COVSHIP = sys.argv[1]
PYTHON = "/usr/bin/python3"
EXIT_LOST = 5

MODULE = '''def f(x):
    if x > 0:
        return "pos"
    return "neg"
'''


def real_data(top):
    """Two real coverage.py data files, from /app-like path `src`."""
    src = os.path.join(top, "container", "app")
    os.makedirs(src)
    with open(os.path.join(src, "mod.py"), "w") as f:
        f.write(MODULE)
    with open(os.path.join(src, "main.py"), "w") as f:
        f.write("import sys, mod\nmod.f(int(sys.argv[1]))\n")
    data = os.path.join(top, "data")
    os.makedirs(data)
    for arg in ("1", "-1"):
        subprocess.run([PYTHON, "-m", "coverage", "run", "-p", "--include=" + src + "/*",
                        "main.py", arg], cwd=src, check=True,
                       env=dict(os.environ, COVERAGE_FILE=os.path.join(data, ".coverage")))
    files = sorted(glob.glob(os.path.join(data, ".coverage.*")))
    check(len(files) == 2, "coverage.py wrote two data files")
    return src, files


def main():
    with scratch() as top:
        src, files = real_data(top)
        ws = os.path.join(top, "ws")
        shutil.copytree(src, ws)
        garbage = b"SQLite format 3\x00" + os.urandom(4080)
        entries = [("run-x/" + os.path.basename(p), open(p, "rb").read()) for p in files]
        bad = entries + [("run-x/.coverage.host.99.1", garbage)]
        rid = run_id(21)

        # Control 1: coverage.py itself only warns about the garbage file.
        ctl = os.path.join(top, "control")
        os.makedirs(ctl)
        for name, data in bad:
            with open(os.path.join(ctl, os.path.basename(name)), "wb") as f:
                f.write(data)
        r = subprocess.run([PYTHON, "-m", "coverage", "combine", "--data-file",
                            os.path.join(ctl, ".coverage"), ctl],
                           capture_output=True, text=True)
        print(r.stdout + r.stderr)
        check(r.returncode == 0, "control: plain coverage combine exits 0")
        check("Couldn't use data file" in r.stdout + r.stderr,
              "control: it only warns about the unreadable file")

        # Control 2: without the garbage file the same pull succeeds.
        ok_src = os.path.join(top, "src-ok")
        os.makedirs(ok_src)
        good_bundle(os.path.join(ok_src, bundle_name(rid)), rid, entries)
        p = pull(COVSHIP, ["file://" + ok_src, "--out", os.path.join(top, "out-ok"),
                           "--combine", "--map", src + "=" + ws])
        check(p.returncode == 0, "control: the bundle without the bad file combines")
        check("coverage: 100.00% of lines" in p.stdout, "control: both branches covered")

        bad_src = os.path.join(top, "src-bad")
        os.makedirs(bad_src)
        good_bundle(os.path.join(bad_src, bundle_name(rid)), rid, bad)
        out = os.path.join(top, "out-bad")
        p = pull(COVSHIP, ["file://" + bad_src, "--out", out, "--combine",
                           "--map", src + "=" + ws])
        check(p.returncode == EXIT_LOST, "pull --combine exits 5 when a file is lost")
        check(".coverage.host.99.1 was NOT combined" in p.stderr,
              "the lost file is named")
        check(not os.path.exists(os.path.join(out, "coverage.xml")), "no report written")
        check("coverage: " not in p.stdout, "no percentage printed")
    print("PASS")


if __name__ == "__main__":
    main()
