"""File names with spaces, a newline, UTF-8 and non-UTF-8 bytes survive
`covship push` → `covship pull` byte for byte: the manifest carries the
non-UTF-8 one as path_b64 (checked, so the raw-byte matching is really
exercised), and pull matches entries by raw bytes (covship never calls
setlocale: libarchive works in the C locale).

usage: test_pull_odd_names.py COVSHIP APP_DIR"""
import hashlib
import json
import os
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import MANIFEST, check, pull, scratch  # noqa: E402

COVSHIP = sys.argv[1]
NAMES = [b".coverage.sp ace.1", b".coverage.nl\nx.2", b".coverage.\xff\xfe.3",
         ".coverage.caf\u00e9.4".encode()]


def digests(d):
    out = {}
    for root, _, files in os.walk(d.encode()):
        for f in files:
            if f.startswith(b".coverage"):
                with open(os.path.join(root, f), "rb") as fh:
                    out[f] = hashlib.sha256(fh.read()).hexdigest()
    return out


def main():
    with scratch() as top:
        cov = os.path.join(top, "cov")
        dest = os.path.join(top, "dest")
        os.makedirs(cov)
        os.makedirs(dest)
        for n in NAMES:
            with open(os.path.join(cov.encode(), n), "wb") as f:
                f.write(os.urandom(200) + n)
        r = subprocess.run([COVSHIP, "push", "--dir", cov, "--dest", "file://" + dest,
                            "--spool", os.path.join(top, "spool"), "--keep-sources"],
                           capture_output=True, text=True, timeout=60)
        print(r.stderr)
        check(r.returncode == 0, "push bundled the odd names")
        bundle = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs][0]
        with tarfile.open(bundle, encoding="utf-8", errors="surrogateescape") as t:
            man = json.load(t.extractfile(MANIFEST))
        check(any("path_b64" in f for f in man["files"]),
              "the manifest carries the non-UTF-8 name as path_b64")
        want = digests(cov)
        out = os.path.join(top, "out")
        p = pull(COVSHIP, ["file://" + dest, "--out", out, "--allow-incomplete"])
        check(p.returncode == 0, "pull exits 0")
        check(len(want) == len(NAMES) and digests(out) == want,
              "every odd name arrived intact")
    print("PASS")


if __name__ == "__main__":
    main()
