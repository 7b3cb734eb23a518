"""Issue 12, test 4: `pull --combine` honours the project's coverage.py
configuration, found where coverage.py would find it, in the workspace side
of --map: a pyproject.toml with [tool.coverage.report] omit and exclude_also
(translated for coverage.py < 7.2, which ignores exclude_also), a
.coveragerc with fail_under (exit 6, report still written), --fail-under
overriding it, --rcfile, a setup.cfg without [coverage:*] skipped, the
project's [paths] merged after pull's own, and a warning when the data was
written by another major version of coverage.py. Control: without a
configuration the omitted file and the excluded lines are in the XML.

usage: test_pull_config.py COVSHIP"""
import glob
import os
import shutil
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import bundle_name, check, good_bundle, pull, run_id, scratch  # noqa: E402

COVSHIP = sys.argv[1]
PYTHON = sys.executable
EXIT_USAGE = 2
EXIT_UNDER = 6

MOD = '''def f(x):
    if x > 0:
        return "pos"
    return "neg"


def debug_only():
    a = 1
    b = 2
    return a + b
'''


def real_data(top):
    src = os.path.join(top, "container", "app")
    os.makedirs(src)
    with open(os.path.join(src, "mod.py"), "w") as f:
        f.write(MOD)
    with open(os.path.join(src, "skip_me.py"), "w") as f:
        f.write("X = 1\nY = 2\n")
    with open(os.path.join(src, "main.py"), "w") as f:
        f.write("import sys, mod, skip_me\nmod.f(int(sys.argv[1]))\n")
    data = os.path.join(top, "data")
    os.makedirs(data)
    for arg in ("1", "-1"):
        subprocess.run([PYTHON, "-m", "coverage", "run", "-p", "--include=" + src + "/*",
                        "main.py", arg], cwd=src, check=True,
                       env=dict(os.environ, COVERAGE_FILE=os.path.join(data, ".coverage")))
    files = sorted(glob.glob(os.path.join(data, ".coverage.*")))
    check(len(files) == 2, "coverage.py wrote two data files")
    return src, files


def xml_facts(path):
    root = ET.parse(path).getroot()
    names = sorted(c.get("filename") for c in root.iter("class"))
    mod_lines = [c for c in root.iter("class") if c.get("filename").endswith("mod.py")]
    nlines = len(list(mod_lines[0].iter("line"))) if mod_lines else -1
    return names, nlines


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def main():
    with scratch() as top:
        src, files = real_data(top)
        entries = [("run-x/" + os.path.basename(p), open(p, "rb").read()) for p in files]
        rid = run_id(41)
        bsrc = os.path.join(top, "bundles")
        os.makedirs(bsrc)
        good_bundle(os.path.join(bsrc, bundle_name(rid)), rid, entries)
        ws = os.path.join(top, "ws")
        shutil.copytree(src, ws)
        elsewhere = os.path.join(top, "elsewhere")  # pull's cwd: not the workspace
        os.makedirs(elsewhere)
        n = [0]

        def run(*extra, cwd=elsewhere, maps=True, env=None):
            n[0] += 1
            out = os.path.join(top, "out%d" % n[0])
            args = ["file://" + bsrc, "--out", out, "--combine"]
            if maps:
                args += ["--map", src + "=" + ws]
            old = os.getcwd()
            os.chdir(cwd)
            try:
                p = pull(COVSHIP, args + list(extra), env=env)
            finally:
                os.chdir(old)
            xml = os.path.join(out, "coverage.xml")
            return p, (xml_facts(xml) if os.path.exists(xml) else None)

        def html_names(d):
            """The source files the HTML report has a page for (index.html)."""
            with open(os.path.join(d, "index.html"), errors="replace") as f:
                idx = f.read()
            return {n for n in ("skip_me.py", "mod.py") if n in idx}

        # Control: no configuration: skip_me.py and debug_only's lines are in.
        p, facts = run("--html", os.path.join(top, "html0"))
        check(p.returncode == 0, "control: no configuration, exit 0")
        check(any(x.endswith("skip_me.py") for x in facts[0]),
              "control: without the configuration skip_me.py is in the XML")
        check(html_names(os.path.join(top, "html0")) == {"skip_me.py", "mod.py"},
              "control: without the configuration skip_me.py is in the HTML report")
        full_lines = facts[1]
        check(full_lines == 8, "control: mod.py has 8 statements in the XML (%d)" % full_lines)
        check("coverage configuration" not in p.stderr, "control: no configuration named")

        # pyproject.toml in the workspace (map DST), pull run elsewhere.
        write(os.path.join(ws, "pyproject.toml"),
              '[project]\nname = "x"\n\n[tool.coverage.report]\n'
              'omit = ["*/skip_me.py"]\nexclude_also = ["def debug_only"]\n')
        # A setup.cfg without [coverage:*] comes first in the order but is skipped.
        write(os.path.join(ws, "setup.cfg"), "[metadata]\nname = x\n")
        p, facts = run("--html", os.path.join(top, "html1"))
        check(p.returncode == 0, "pyproject.toml: exit 0")
        check(html_names(os.path.join(top, "html1")) == {"mod.py"},
              "pyproject.toml [report] omit: skip_me.py is not in the HTML report")
        check("pyproject.toml" in p.stderr, "pyproject.toml is named as the configuration used")
        check(not any(x.endswith("skip_me.py") for x in facts[0]),
              "pyproject.toml [report] omit: skip_me.py is not in the XML")
        check(facts[1] == full_lines - 4,
              "exclude_also: debug_only's 4 lines are excluded (%d lines)" % facts[1])

        # .coveragerc comes first (coverage.py's order): its fail_under counts,
        # pyproject.toml's omit no longer does.
        write(os.path.join(ws, ".coveragerc"), "[report]\nfail_under = 100\nprecision = 1\n")
        p, facts = run()
        check(p.returncode == EXIT_UNDER, "fail_under 100 in .coveragerc: exit 6")
        check(facts is not None, "below fail_under the report is still written")
        check(any(x.endswith("skip_me.py") for x in facts[0]),
              ".coveragerc wins over pyproject.toml, as in coverage.py")
        check("below fail_under" in p.stderr, "the failure is explained")

        # --fail-under overrides the configuration's value, both ways.
        p, _ = run("--fail-under", "50")
        check(p.returncode == 0, "--fail-under 50 overrides fail_under = 100: exit 0")
        os.remove(os.path.join(ws, ".coveragerc"))
        os.rename(os.path.join(ws, "pyproject.toml"), os.path.join(ws, "pyproject.bak"))
        p, _ = run("--fail-under", "99.5")
        check(p.returncode == EXIT_UNDER, "--fail-under 99.5 without a config: exit 6")
        os.rename(os.path.join(ws, "pyproject.bak"), os.path.join(ws, "pyproject.toml"))

        # --rcfile names the file; a broken one is a one-line usage error.
        rc = os.path.join(top, "my.rc")
        write(rc, "[coverage:report]\nomit = */skip_me.py\n")
        p, facts = run("--rcfile", rc)
        check(p.returncode == 0 and not any(x.endswith("skip_me.py") for x in facts[0]),
              "--rcfile: its omit is honoured")
        write(rc, "[report\nomit = x\n")
        p, facts = run("--rcfile", rc)
        check(p.returncode == EXIT_USAGE and "my.rc" in p.stderr and facts is None,
              "a broken --rcfile: exit 2, named, no report")

        # The project's [paths] is merged after pull's remap: alone (no --map,
        # found in the current directory = the workspace) it maps the data.
        os.remove(os.path.join(ws, "pyproject.toml"))
        write(os.path.join(ws, ".coveragerc"), "[paths]\nsource =\n    %s\n    %s\n" % (ws, src))
        p, facts = run(cwd=ws, maps=False)
        check(p.returncode == 0 and facts and "mod.py" in facts[0],
              "the project's [paths] maps the data without --map")
        # ...and pull's own entries come first: a wrong project entry loses.
        write(os.path.join(ws, ".coveragerc"),
              "[paths]\nsource =\n    /nonexistent\n    %s\n" % src)
        p, facts = run()
        check(p.returncode == 0, "--map wins over a wrong [paths] entry of the project")
        os.remove(os.path.join(ws, ".coveragerc"))
        os.remove(os.path.join(ws, "setup.cfg"))

        # Writer version: a data file from another major version is warned about.
        old = os.path.join(top, "old")
        os.makedirs(old)
        shutil.copy(files[0], os.path.join(old, "f"))
        db = sqlite3.connect(os.path.join(old, "f"))
        db.execute("update meta set value = '5.5' where key = 'version'")
        db.commit()
        db.close()
        osrc = os.path.join(top, "bundles-old")
        os.makedirs(osrc)
        good_bundle(os.path.join(osrc, bundle_name(rid)), rid,
                    [("run-x/.coverage.h.1.1", open(os.path.join(old, "f"), "rb").read())])
        p = pull(COVSHIP, ["file://" + osrc, "--out", os.path.join(top, "out-old"),
                           "--combine", "--map", src + "=" + ws])
        check("written by coverage.py 5.5" in p.stderr, "a 5.x data file is warned about")
        check(p.returncode == 0, "the warning does not fail the pull")
        p, _ = run()
        check("written by coverage.py" not in p.stderr,
              "control: data of the same major version gives no warning")
    print("PASS")


if __name__ == "__main__":
    main()
