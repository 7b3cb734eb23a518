"""Issue 12, test 6 (first part): `pull --out .` run from the output
directory with a hostile bundle named coverage.tar.gz (valid manifest and
marker) whose files __init__.py and __main__.py land in ./coverage/: pull
runs coverage.py isolated (-I) from its own work directory, so none of it is
imported (the marker file the hostile code writes does not exist), and
coverage.py really ran (it names the .py files it could not combine).
Control: `python3 -m coverage` without -I from that directory runs the
hostile code (the marker file IS written).

usage: test_pull_isolation.py COVSHIP"""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import check, good_bundle, pull, run_id, scratch  # noqa: E402

COVSHIP = sys.argv[1]
PYTHON = sys.executable
EXIT_LOST = 5


def main():
    with scratch() as top:
        app = os.path.join(top, "app")
        os.makedirs(app)
        with open(os.path.join(app, "m.py"), "w") as f:
            f.write("X = 1\n")
        subprocess.run([PYTHON, "-m", "coverage", "run", "-p", "m.py"], cwd=app, check=True,
                       env=dict(os.environ, COVERAGE_FILE=os.path.join(top, ".coverage")))
        data = glob.glob(os.path.join(top, ".coverage.*"))[0]
        pwned = os.path.join(top, "PWNED")
        evil = ("open(%r, 'a').write(__name__ + '\\n')\n" % pwned).encode()
        rid = run_id(61)
        bsrc = os.path.join(top, "bundles")
        os.makedirs(bsrc)
        good_bundle(os.path.join(bsrc, "coverage.tar.gz"), rid,
                    [("__init__.py", evil), ("__main__.py", evil), ("cmdline.py", evil),
                     (".coverage.h.1.1", open(data, "rb").read())])
        out = os.path.join(top, "ws")
        os.makedirs(out)
        old = os.getcwd()
        os.chdir(out)
        try:
            p = pull(COVSHIP, ["file://" + bsrc, "--out", ".", "--combine",
                               "--map", app + "=" + app])
        finally:
            os.chdir(old)
        check(os.path.isfile(os.path.join(out, "coverage", "__main__.py")),
              "the hostile coverage/__main__.py was extracted into the current directory")
        check("__main__.py was NOT combined" in p.stderr,
              "coverage.py ran (it names the .py files it cannot combine)")
        check(p.returncode == EXIT_LOST, "and pull exits 5 for them")
        check(not os.path.exists(pwned), "the hostile code did not run (no marker file)")

        # Control: plain `python3 -m coverage` from that directory runs it.
        r = subprocess.run([PYTHON, "-m", "coverage", "--version"], cwd=out,
                           capture_output=True, text=True)
        print(r.stdout + r.stderr)
        check(os.path.exists(pwned),
              "control: python3 -m coverage without -I from there runs the hostile code")
    print("PASS")


if __name__ == "__main__":
    main()
