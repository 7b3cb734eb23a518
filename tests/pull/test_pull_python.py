"""Issue 12, test 5: which Python runs coverage.py. A virtualenv
(`venv --system-site-packages`, Debian's coverage.py) first on PATH is used,
and $VIRTUAL_ENV beats PATH: a .pth file in each venv records sys.prefix, proving which interpreter ran (control: --python
/usr/bin/python3 does not run the venv's). A Python without coverage.py, one
with a coverage.py older than 6.3, and a --python that does not exist give
one line saying how to fix it and exit 2 before anything is downloaded or
created (--out does not exist afterwards; control: with a good Python the
same pull creates it).

usage: test_pull_python.py COVSHIP"""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import bundle_name, check, good_bundle, pull, run_id, scratch  # noqa: E402

COVSHIP = sys.argv[1]
SYSPY = "/usr/bin/python3"
EXIT_USAGE = 2

# A .pth line starting with "import" runs at startup, -I or not (a
# sitecustomize.py would lose to Debian's own in the standard library).
PTH = ("import os, sys; _m = os.environ.get('COVSHIP_TEST_PREFIX_LOG'); "
       "_m and open(_m, 'a').write(sys.prefix + chr(10))\n")


def venv(path, system_site):
    cmd = [SYSPY, "-m", "venv", "--without-pip", path]
    if system_site:
        cmd.insert(4, "--system-site-packages")
    subprocess.run(cmd, check=True)
    site = glob.glob(os.path.join(path, "lib", "python3*", "site-packages"))[0]
    with open(os.path.join(site, "covship_test_prefix.pth"), "w") as f:
        f.write(PTH)
    return site


def main():
    with scratch() as top:
        # A small real data file.
        app = os.path.join(top, "app")
        os.makedirs(app)
        with open(os.path.join(app, "m.py"), "w") as f:
            f.write("X = 1\n")
        subprocess.run([SYSPY, "-m", "coverage", "run", "-p", "m.py"], cwd=app, check=True,
                       env=dict(os.environ, COVERAGE_FILE=os.path.join(top, ".coverage")))
        data = glob.glob(os.path.join(top, ".coverage.*"))[0]
        rid = run_id(51)
        bsrc = os.path.join(top, "bundles")
        os.makedirs(bsrc)
        good_bundle(os.path.join(bsrc, bundle_name(rid)), rid,
                    [("run-x/.coverage.h.1.1", open(data, "rb").read())])

        good = os.path.join(top, "venv-good")
        other = os.path.join(top, "venv-other")
        bare = os.path.join(top, "venv-bare")
        old = os.path.join(top, "venv-old")
        venv(good, True)
        venv(other, True)
        venv(bare, False)
        oldsite = venv(old, False)
        os.makedirs(os.path.join(oldsite, "coverage"))
        with open(os.path.join(oldsite, "coverage", "__init__.py"), "w") as f:
            f.write('__version__ = "5.5"\n')
        log = os.path.join(top, "prefixes")
        path0 = os.environ.get("PATH", "/usr/bin:/bin")
        n = [0]

        def run(env, *extra):
            n[0] += 1
            out = os.path.join(top, "out%d" % n[0])
            if os.path.exists(log):
                os.remove(log)
            e = {"COVSHIP_PYTHON": "", "COVSHIP_TEST_PREFIX_LOG": log, "VIRTUAL_ENV": ""}
            e.update(env)
            p = pull(COVSHIP, ["file://" + bsrc, "--out", out, "--combine",
                               "--map", app + "=" + app] + list(extra), env=e)
            ran = open(log).read().split() if os.path.exists(log) else []
            return p, out, ran

        p, _, ran = run({"PATH": os.path.join(good, "bin") + ":" + path0})
        check(p.returncode == 0, "a venv with system site packages first on PATH: exit 0")
        check(ran and set(ran) == {good},
              "every python pull ran was the PATH venv's (%s)" % sorted(set(ran)))
        check(os.path.join(good, "bin", "python3") in p.stderr, "pull names the interpreter")

        p, _, ran = run({"PATH": os.path.join(good, "bin") + ":" + path0,
                         "VIRTUAL_ENV": other})
        check(p.returncode == 0 and ran and set(ran) == {other},
              "$VIRTUAL_ENV/bin/python beats python3 on PATH (%s)" % sorted(set(ran)))

        p, _, ran = run({"PATH": os.path.join(good, "bin") + ":" + path0}, "--python", SYSPY)
        check(p.returncode == 0 and good not in ran,
              "control: --python /usr/bin/python3 overrides, the venv's python did not run")

        for name, env, extra, why in (
                ("no coverage.py", {"PATH": os.path.join(bare, "bin") + ":" + path0}, [],
                 "No module named 'coverage'"),
                ("coverage.py 5.5", {"VIRTUAL_ENV": old}, [], "older than 6.3"),
                ("a missing --python", {}, ["--python", os.path.join(top, "nope")],
                 "cannot be started")):
            p, out, _ = run(env, *extra)
            lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
            check(p.returncode == EXIT_USAGE, "%s: exit 2" % name)
            check(len(lines) == 1 and why in lines[0] and "--python" in lines[0]
                  and "install" in lines[0], "%s: one line that says how to fix it" % name)
            check(not os.path.exists(out), "%s: nothing created (--out does not exist)" % name)
            check(p.stdout == "", "%s: nothing pulled" % name)
        # Control of "nothing created": the same pull with a good python creates --out.
        p, out, _ = run({"VIRTUAL_ENV": good})
        check(p.returncode == 0 and os.path.isdir(out), "control: a good python pulls into --out")
    print("PASS")


if __name__ == "__main__":
    main()
