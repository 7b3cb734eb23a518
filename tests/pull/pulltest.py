"""Helpers for the `covship pull` tests: bundles made by hand per the
manifest contract (docs/sidecar.md, TEAM.md "Bundles"), so a test can make
exactly the evil or broken bundle it needs, and small runners.

Run with Debian's /usr/bin/python3 (coverage.py, gunicorn, Django)."""
import contextlib
import hashlib
import http.client
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

MANIFEST = "covship-manifest.json"


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg)


@contextlib.contextmanager
def scratch():
    d = tempfile.mkdtemp(prefix="covship-pull-test.")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def sha256_bytes(b):
    return hashlib.sha256(b).hexdigest()


def sha256_file(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_id(n=1):
    return ("%032x" % (0xC0FFEE00 + n))


def marker(rid, status="complete"):
    return {"schema": 1, "run_id": rid, "status": status,
            "main": {"pid": 7, "exit_code": 0, "signal": None},
            "exit_status": 0, "descendants": [], "grace_seconds": 30,
            "started": "2026-11-25T09:00:00.000Z",
            "stop_requested": "2026-11-25T09:01:00.000Z",
            "finished": "2026-11-25T09:01:01.000Z", "shim_version": "0.1.0"}


def manifest(rid, files, mark, seq=1):
    """files: list of (path, bytes)."""
    return {"schema": 1, "covship_version": "test", "run_id": rid, "seq": seq,
            "created": "2026-11-25T09:01:02.000Z", "format": "python",
            "files": [{"path": p, "size": len(b), "sha256": sha256_bytes(b)}
                      for p, b in files],
            "marker": mark,
            "metadata": {"hostname": "test", "ecs": None, "build_tag": None,
                         "git_commit": None, "labels": {}}}


def _add_file(tar, name, data):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = 0o644
    tar.addfile(ti, io.BytesIO(data))


def write_bundle(path, entries, man=None):
    """entries: ("file", name, bytes) | ("symlink", name, target) |
    ("hardlink", name, target) | ("dir", name). The manifest (a dict, or raw
    bytes) goes last when given."""
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            if e[0] == "file":
                _add_file(tar, e[1], e[2])
            else:
                ti = tarfile.TarInfo(e[1])
                ti.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                           "dir": tarfile.DIRTYPE}[e[0]]
                if e[0] == "dir":
                    ti.mode = 0o755
                else:
                    ti.linkname = e[2]
                tar.addfile(ti)
        if man is not None:
            data = man if isinstance(man, bytes) else json.dumps(man).encode()
            _add_file(tar, MANIFEST, data)


def good_bundle(path, rid, files, status="complete", seq=1):
    """A well-formed bundle of files [(path, bytes)] with a marker."""
    mark = marker(rid, status) if status else None
    write_bundle(path, [("file", p, b) for p, b in files], manifest(rid, files, mark, seq))


def bundle_name(rid, seq=1):
    return "%s-%06d.tar.gz" % (rid, seq)


def pull(binary, args, env=None, timeout=120):
    e = dict(os.environ)
    e.pop("COVSHIP_LOG_FORMAT", None)
    e.setdefault("AWS_EC2_METADATA_DISABLED", "true")  # no test asks 169.254.169.254
    # coverage.py from Debian (this interpreter), not whatever python3 is
    # first on PATH; tests of the default choice pass COVSHIP_PYTHON="".
    e["COVSHIP_PYTHON"] = sys.executable
    if env:
        e.update(env)
    p = subprocess.run([binary, "pull"] + args, capture_output=True, text=True,
                       env=e, timeout=timeout)
    print("$ covship pull " + " ".join(args) + " -> %d" % p.returncode)
    sys.stdout.write(p.stdout)
    sys.stdout.write(p.stderr)
    return p


def tree(d):
    """Every path below d (relative), for 'nothing was extracted' checks."""
    out = []
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(root, n), d))
    return sorted(out)


# The test app under the shim (test_pull_combine_map, test_pull_accounting).

class UnixHTTP(http.client.HTTPConnection):
    """HTTP over the app's Unix socket (gunicorn -b unix:PATH)."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def get(sock, path, timeout=10):
    """(status, body) of GET path, or (None, the error) when it failed."""
    c = UnixHTTP(sock, timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    except (OSError, http.client.HTTPException) as e:
        return None, str(e).encode()
    finally:
        c.close()


def wait_for(pred, timeout):
    """True once pred() is, within timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def init_pid(unshare_pid):
    """The namespace's PID 1 (the shim): unshare's only child."""
    try:
        with open("/proc/%d/task/%d/children" % (unshare_pid, unshare_pid)) as f:
            kids = f.read().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None
