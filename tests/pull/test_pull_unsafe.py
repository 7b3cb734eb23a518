"""Issue 4, test 6: `covship pull` refuses an archive entry ../../x, an
absolute path and a symlink escape (controls: Python's tarfile.extractall
without a filter — a naive extractor — writes outside for each of them); a
flipped byte, a file not matching the manifest, a missing manifest and a
hard link are reported and nothing of the bundle is extracted (control for
the mismatch: `tar xzf` extracts it without a word).

usage: test_pull_unsafe.py COVSHIP"""
import os
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import (bundle_name, check, good_bundle, manifest, marker, pull,  # noqa: E402
                      run_id, scratch, sha256_file, tree, write_bundle)

COVSHIP = sys.argv[1]
EXIT_CORRUPT = 3


def naive_extract(bundle, dest):
    """What a shell loop or a careless script does."""
    os.makedirs(dest)
    with tarfile.open(bundle) as tar:
        tar.extractall(dest)


def evil_case(top, name, entries_fn, leak):
    """entries_fn(outside) -> entries. leak: file name the escape would
    write in `outside`."""
    base = os.path.join(top, name)
    outside = os.path.join(base, "outside")
    src = os.path.join(base, "src")
    out = os.path.join(base, "out")
    os.makedirs(outside)
    os.makedirs(src)
    rid = run_id(7)
    entries = entries_fn(outside)
    files = [(e[1], e[2]) for e in entries if e[0] == "file"]
    bundle = os.path.join(src, bundle_name(rid))
    write_bundle(bundle, entries, manifest(rid, files, marker(rid)))

    # Control: the same archive through a naive extraction escapes.
    naive = os.path.join(base, "naive", "b")
    try:
        naive_extract(bundle, naive)
    except OSError as e:
        print("naive extraction raised %r (after writing what it could)" % e)
    check(os.path.exists(os.path.join(outside, leak)),
          "%s: control: a naive extraction writes %s outside its directory" % (name, leak))
    os.unlink(os.path.join(outside, leak))

    p = pull(COVSHIP, ["file://" + src, "--out", out])
    check(p.returncode == EXIT_CORRUPT, "%s: pull exits %d" % (name, EXIT_CORRUPT))
    check("corrupt or unsafe" in p.stderr, "%s: pull says the bundle is unsafe" % name)
    check(not os.listdir(outside), "%s: nothing written outside" % name)
    check(tree(out) == [], "%s: nothing of the bundle extracted (out is empty)" % name)


def dotdot(outside):
    return [("file", "run-x/.coverage.h.1.1", b"fine"),
            ("file", "../../outside/pwned-dotdot", b"evil")]


def absolute(outside):
    return [("file", os.path.join(outside, "pwned-abs"), b"evil")]


def symlink(outside):
    return [("symlink", "link", outside),
            ("file", "link/pwned-symlink", b"evil")]


def flipped_byte(top):
    """A bundle made by `covship push`, one byte flipped."""
    base = os.path.join(top, "flip")
    cov = os.path.join(base, "cov")
    os.makedirs(cov)
    for i in range(3):
        with open(os.path.join(cov, ".coverage.host.%d.42" % i), "wb") as f:
            f.write(os.urandom(50000))
    dest = os.path.join(base, "dest")
    os.makedirs(dest)
    r = subprocess.run([COVSHIP, "push", "--dir", cov, "--dest", "file://" + dest,
                        "--spool", os.path.join(base, "spool"), "--keep-sources"],
                       capture_output=True, text=True, timeout=60)
    print(r.stderr)
    check(r.returncode == 0, "flip: covship push made a bundle")
    bundles = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs
               if f.endswith(".tar.gz")]
    check(len(bundles) == 1, "flip: one bundle delivered")

    # Control: the intact bundle pulls (a push without the shim has no
    # marker, hence --allow-incomplete) and every file is byte-identical.
    out = os.path.join(base, "out-good")
    p = pull(COVSHIP, ["file://" + dest, "--out", out, "--allow-incomplete"])
    check(p.returncode == 0, "flip: control: the intact bundle pulls")
    got = {f: sha256_file(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs
           if f.startswith(".coverage")}
    want = {f: sha256_file(os.path.join(cov, f)) for f in os.listdir(cov)}
    check(got == want, "flip: control: every file arrived intact")

    with open(bundles[0], "r+b") as f:
        f.seek(os.path.getsize(bundles[0]) // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0x10]))
    out = os.path.join(base, "out-bad")
    p = pull(COVSHIP, ["file://" + dest, "--out", out, "--allow-incomplete"])
    check(p.returncode == EXIT_CORRUPT, "flip: a flipped byte makes pull exit 3")
    check("corrupt or unsafe" in p.stderr, "flip: reported as corrupt")
    check(tree(out) == [], "flip: nothing extracted")


def mismatch(top):
    """Valid gzip and tar, but a file is not what the manifest says."""
    base = os.path.join(top, "mismatch")
    src = os.path.join(base, "src")
    os.makedirs(src)
    rid = run_id(8)
    listed = [("run-a/.coverage.h.1.1", b"original data")]
    bundle = os.path.join(src, bundle_name(rid))
    write_bundle(bundle, [("file", "run-a/.coverage.h.1.1", b"tampered data")],
                 manifest(rid, listed, marker(rid)))
    # Control: tar itself sees nothing wrong.
    os.makedirs(os.path.join(base, "tar"))
    r = subprocess.run(["tar", "xzf", bundle, "-C", os.path.join(base, "tar")])
    check(r.returncode == 0, "mismatch: control: tar xzf extracts it happily")
    out = os.path.join(base, "out")
    p = pull(COVSHIP, ["file://" + src, "--out", out])
    check(p.returncode == EXIT_CORRUPT, "mismatch: pull exits 3")
    check("does not match the manifest" in p.stderr, "mismatch: names the mismatch")
    check(tree(out) == [], "mismatch: nothing extracted")


def simple_bad(top, name, entries, man, expect):
    base = os.path.join(top, name)
    src = os.path.join(base, "src")
    os.makedirs(src)
    write_bundle(os.path.join(src, bundle_name(run_id(9))), entries, man)
    out = os.path.join(base, "out")
    p = pull(COVSHIP, ["file://" + src, "--out", out])
    check(p.returncode == EXIT_CORRUPT, "%s: pull exits 3" % name)
    check(expect in p.stderr, "%s: message mentions %r" % (name, expect))
    check(tree(out) == [], "%s: nothing extracted" % name)


def mixed(top):
    """A good bundle next to an evil one: the good one is extracted, the
    evil one is not, and the exit status still says something was wrong."""
    base = os.path.join(top, "mixed")
    src = os.path.join(base, "src")
    os.makedirs(src)
    good = run_id(10)
    good_bundle(os.path.join(src, bundle_name(good)), good,
                [("run-g/.coverage.h.1.1", b"good")])
    evil = run_id(11)
    write_bundle(os.path.join(src, bundle_name(evil)),
                 [("file", "../escape", b"x")], manifest(evil, [("../escape", b"x")],
                                                          marker(evil)))
    out = os.path.join(base, "out")
    p = pull(COVSHIP, ["file://" + src, "--out", out])
    check(p.returncode == EXIT_CORRUPT, "mixed: pull exits 3")
    check(tree(out) == sorted([good + "-000001",
                               good + "-000001/covship-manifest.json",
                               good + "-000001/run-g",
                               good + "-000001/run-g/.coverage.h.1.1"]),
          "mixed: only the good bundle is extracted")


def main():
    with scratch() as top:
        evil_case(top, "dotdot", dotdot, "pwned-dotdot")
        evil_case(top, "absolute", absolute, "pwned-abs")
        evil_case(top, "symlink", symlink, "pwned-symlink")
        flipped_byte(top)
        mismatch(top)
        rid = run_id(9)
        files = [("a/.coverage.h.1.1", b"data")]
        simple_bad(top, "no-manifest", [("file", "a/.coverage.h.1.1", b"data")], None,
                   "no covship-manifest.json")
        simple_bad(top, "hardlink", [("file", "a/.coverage.h.1.1", b"data"),
                                     ("hardlink", "a/.coverage.h.1.2", "a/.coverage.h.1.1")],
                   manifest(rid, files + [("a/.coverage.h.1.2", b"data")], marker(rid)),
                   "not a regular file")
        mixed(top)
    print("PASS")


if __name__ == "__main__":
    main()
