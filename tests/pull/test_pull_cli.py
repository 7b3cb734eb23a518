"""`covship pull` command line: every bad usage gives one clear line and
exit 2 (control: --help exits 0 and documents every option and exit
status); an empty prefix is exit 1; --combine on a non-python bundle is
exit 2; pulling the same bundles twice into one directory replaces them;
more bundles than RLIMIT_NOFILE allows open at once still pull (control:
under that limit the bundles cannot all be open together).

usage: test_pull_cli.py COVSHIP APP_DIR"""
import json
import os
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import (bundle_name, check, good_bundle, manifest, marker, pull,  # noqa: E402
                      run_id, scratch, tree, write_bundle)

COVSHIP = sys.argv[1]


def usage_error(args, expect, env=None):
    p = pull(COVSHIP, args, env=env)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    check(p.returncode == 2 and len(lines) == 1 and expect in lines[0],
          "%r: exit 2 with one line mentioning %r" % (args, expect))


def low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def many(top):
    src = os.path.join(top, "many")
    os.makedirs(src)
    paths = []
    for i in range(300):
        rid = run_id(1000 + i)
        paths.append(os.path.join(src, bundle_name(rid)))
        good_bundle(paths[-1], rid, [("r/.coverage.h.%d.1" % i, b"x")])
    ctl = subprocess.run([sys.executable, "-c",
                          "import sys; fs = [open(p, 'rb') for p in sys.argv[1:]]"] + paths,
                         preexec_fn=low_nofile, capture_output=True, text=True)
    check(ctl.returncode != 0 and "Too many open files" in ctl.stderr,
          "control: with RLIMIT_NOFILE 64 the 300 bundles cannot all be open")
    out = os.path.join(top, "out-many")
    p = subprocess.run([COVSHIP, "pull", "file://" + src, "--out", out, "--log-level",
                        "warning"], preexec_fn=low_nofile, capture_output=True, text=True,
                       timeout=120)
    print(p.stdout + p.stderr[-2000:])
    check(p.returncode == 0 and "pulled 300 of 300 bundles" in p.stdout,
          "pull fetches in batches under RLIMIT_NOFILE 64")


def main():
    p = subprocess.run([COVSHIP, "pull", "--help"], capture_output=True, text=True)
    check(p.returncode == 0, "control: --help exits 0")
    for opt in ("--out", "--combine", "--map", "--xml", "--python", "--allow-incomplete",
                "--jobs", "--endpoint", "--region", "--ca-bundle", "--insecure",
                "--path-style", "--log-level", "COVSHIP_PULL_MAP", "Exit status"):
        check(opt in p.stdout, "--help documents %s" % opt)
    for code in ("0 ok", "1 listing", "2 bad usage", "3 a bundle", "4 a run", "5 --combine"):
        check(code in " ".join(p.stdout.split()), "--help documents exit %s" % code)

    with scratch() as top:
        src = os.path.join(top, "src")
        os.makedirs(src)
        out = os.path.join(top, "out")
        usage_error(["--out", out], "missing URL")
        usage_error(["file://" + src], "missing --out")
        usage_error(["http://x/y", "--out", out], "neither file:///dir nor s3://")
        usage_error(["file://relative/dir", "--out", out], "absolute path")
        usage_error(["file://" + src, "--out", out, "--jobs", "0"], "--jobs")
        usage_error(["file://" + src, "--out", out, "--jobs", "x"], "--jobs")
        usage_error(["file://" + src, "--out", out, "--map", "/app=/ws"], "add --combine")
        usage_error(["file://" + src, "--out", out, "--combine", "--map", "noequal"],
                    "SRC=DST")
        usage_error(["file://" + src, "--out", out, "--bogus"], "bad option")
        usage_error(["file://" + src, "file://" + src, "--out", out], "one URL")
        usage_error(["file://" + src, "--out", out, "--log-level", "loud"], "--log-level")
        usage_error(["file://" + src, "--out", out], "COVSHIP_PULL_JOBS",
                    env={"COVSHIP_PULL_JOBS": "100"})
        usage_error(["file://" + src, "--out", out], "not a boolean",
                    env={"COVSHIP_ALLOW_INCOMPLETE": "maybe"})
        usage_error(["file://" + src + "/missing", "--out", out], "check the file:// URL")

        p = pull(COVSHIP, ["file://" + src, "--out", out])
        check(p.returncode == 1 and "no bundles" in p.stderr, "empty source: exit 1")

        # Environment equivalents drive a whole pull.
        rid = run_id(60)
        good_bundle(os.path.join(src, bundle_name(rid)), rid, [("r/.coverage.h.1.1", b"x")])
        p = pull(COVSHIP, [], env={"COVSHIP_PULL_URL": "file://" + src,
                                   "COVSHIP_PULL_OUT": out})
        check(p.returncode == 0, "COVSHIP_PULL_URL and COVSHIP_PULL_OUT work")
        first = tree(out)
        with open(os.path.join(out, rid + "-000001", "stray"), "w") as f:
            f.write("left from before\n")
        p = pull(COVSHIP, ["file://" + src, "--out", out])
        check(p.returncode == 0, "pulling again into the same directory works")
        check(tree(out) == first, "the bundle's directory was replaced as a whole")

        go = os.path.join(top, "go")
        os.makedirs(go)
        rid = run_id(61)
        m = manifest(rid, [("covcounters.1", b"go")], marker(rid))
        m["format"] = "go"
        write_bundle(os.path.join(go, bundle_name(rid)), [("file", "covcounters.1", b"go")],
                     json.dumps(m).encode())
        p = pull(COVSHIP, ["file://" + go, "--out", os.path.join(top, "out-go"), "--combine"])
        check(p.returncode == 2 and "only understands coverage.py data" in p.stderr,
              "--combine on a go bundle: exit 2")
        many(top)
    print("PASS")


if __name__ == "__main__":
    main()
