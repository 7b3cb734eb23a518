"""Issue 12, test 2 (first half): the Jenkinsfiles parse and lint clean.
npm-groovy-lint 15 (CodeNarc, offline, on Debian's Node 20 and Java) must
report 0 errors and 0 warnings on docker/jenkins/Jenkinsfile and on the
pipeline block of docs/jenkins.md; the block must also equal the file, so
the docs show what is tested. Warnings that are wanted carry a CodeNarc
suppression comment with the reason in the Jenkinsfile.

npm-groovy-lint is installed from the npm registry into BUILD/npm (once);
exit 77 (skip) only when the registry cannot be reached.

Controls: a copy with an unbalanced brace gives at least one error, and the
parent commit's Jenkinsfile gives its known warnings, so the counts are read.

usage: test_jenkinsfile_lint.py SRCDIR BUILDDIR"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SRC, BUILD = sys.argv[1], sys.argv[2]
# The last commit with the Jenkinsfile before issue 12 (5 warnings).
OLD_REV = "d045db2"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jenkinsfile_driver import markdown_pipeline  # noqa: E402

PREFIX = os.path.join(BUILD, "npm")
LINT = os.path.join(PREFIX, "node_modules", ".bin", "npm-groovy-lint")


def install():
    if os.access(LINT, os.X_OK):
        return
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", PREFIX,
                        "npm-groovy-lint@15"], capture_output=True, text=True, timeout=600)
    print(r.stdout[-2000:] + r.stderr[-2000:])
    if r.returncode == 0 and os.access(LINT, os.X_OK):
        return
    v = subprocess.run(["npm", "view", "npm-groovy-lint@15", "version"], capture_output=True,
                       text=True, timeout=120)
    if v.returncode != 0:
        print("SKIP: the npm registry cannot be reached: %s" % v.stderr.strip()[-300:])
        sys.exit(77)
    print("FAIL: npm install npm-groovy-lint@15 failed with the registry reachable")
    sys.exit(1)


def lint(path):
    """(errors, warnings, lines of the report) for one file named Jenkinsfile."""
    r = subprocess.run([LINT, "--noserver", "--failon", "none", "--output", "json",
                        os.path.basename(path)], cwd=os.path.dirname(path),
                       capture_output=True, text=True, timeout=300)
    try:
        rep = json.loads(r.stdout[r.stdout.index("{"):])
    except ValueError:
        print(r.stdout[-3000:] + r.stderr[-3000:])
        raise
    errs = rep["summary"]["totalFoundErrorNumber"]
    warns = rep["summary"]["totalFoundWarningNumber"]
    found = [e for f in rep["files"].values() for e in f.get("errors", [])
             if e["severity"] in ("error", "warning")]
    for e in found:
        print("  %s:%s %s %s %s" % (os.path.basename(path), e.get("line"), e["severity"],
                                     e["rule"], e["msg"][:120]))
    return errs, warns


def main():
    install()
    ok = True
    top = tempfile.mkdtemp(prefix="jenkinsfile-lint.")
    try:
        def copy(name, text):
            d = os.path.join(top, name)
            os.makedirs(d)
            with open(os.path.join(d, "Jenkinsfile"), "w") as f:
                f.write(text)
            return os.path.join(d, "Jenkinsfile")

        with open(os.path.join(SRC, "docker/jenkins/Jenkinsfile")) as f:
            jf = f.read()
        doc = markdown_pipeline(os.path.join(SRC, "docs/jenkins.md"))
        same = "pipeline {" in doc and jf.rstrip().endswith(doc.strip())
        print("%s: the pipeline in docs/jenkins.md is docker/jenkins/Jenkinsfile's"
              % ("ok" if same else "FAIL"))
        ok &= same
        for name, text in (("docker", jf), ("docs", doc)):
            e, w = lint(copy(name, text))
            good = e == 0 and w == 0
            ok &= good
            print("%s: %s Jenkinsfile: %d errors, %d warnings" % ("ok" if good else "FAIL",
                                                                   name, e, w))
        e, _ = lint(copy("broken", jf.replace("stages {", "stages {{", 1)))
        good = e >= 1
        ok &= good
        print("%s: control: an unbalanced brace gives %d error(s)" % ("ok" if good else "FAIL", e))
        old = subprocess.run(["git", "-C", SRC, "show", OLD_REV + ":docker/jenkins/Jenkinsfile"],
                             capture_output=True, text=True)
        good = old.returncode == 0
        ok &= good
        if good:
            e, w = lint(copy("old", old.stdout))
            good = e == 0 and w >= 1
            ok &= good
            print("%s: control: the old Jenkinsfile gives %d warning(s)"
                  % ("ok" if good else "FAIL", w))
    finally:
        shutil.rmtree(top, ignore_errors=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
