"""Shared helpers of the covship watch/push integration tests.

Every script takes `--covship PATH` (ctest passes $<TARGET_FILE:covship>)
and prints one `PASS:`/`FAIL:` line per check, then `RESULT: PASS|FAIL`;
the exit status is 0 only when every check passed (and at least one ran).
Processes are stopped only by the PIDs these helpers started.
"""
import argparse
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))


class Checker:
    def __init__(self, name, labels=("PASS", "FAIL")):
        self.labels = labels
        self.name = name
        self.failed = 0
        self.passed = 0
        self.t0 = time.monotonic()
        print(f"=== {name}", flush=True)

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        line = f"{self.labels[0] if ok else self.labels[1]}: {what}"
        if detail:
            line += f" ({detail})"
        print(line, flush=True)
        return ok

    def info(self, msg):
        print(f"info: {msg}", flush=True)

    def finish(self):
        dt = time.monotonic() - self.t0
        verdict = "PASS" if self.failed == 0 and self.passed > 0 else "FAIL"
        print(f"RESULT: {verdict} {self.name}: {self.passed} passed, "
              f"{self.failed} failed, {dt:.1f} s", flush=True)
        sys.exit(0 if verdict == "PASS" else 1)


def parse_args(extra=None):
    p = argparse.ArgumentParser()
    p.add_argument("--covship", required=True)
    p.add_argument("--keep", action="store_true")
    if extra:
        extra(p)
    a = p.parse_args()
    if not os.access(a.covship, os.X_OK):
        print(f"FAIL: covship not executable at {a.covship}", flush=True)
        sys.exit(1)
    return a


class Scratch:
    def __init__(self, keep=False):
        self.path = tempfile.mkdtemp(prefix="covship-sidecartest.")
        self.keep = keep
        self.cleanups = []

    def sub(self, name):
        p = os.path.join(self.path, name)
        os.makedirs(p, exist_ok=True)
        return p

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:  # clean-up must go on
                print(f"info: clean-up: {e}", flush=True)
        if self.keep:
            print(f"info: scratch kept at {self.path}", flush=True)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def wait_for(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


def clean_env(**kv):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVSHIP_")}
    for k, v in kv.items():
        if v is not None:
            env[k] = str(v)
    return env


class Watch:
    """`covship watch` started by a test; output to a log file."""

    def __init__(self, covship, args, log, env=None):
        self.logpath = log
        self.logfh = open(log, "ab")
        self.proc = subprocess.Popen([covship, "watch"] + args, stdout=self.logfh,
                                     stderr=subprocess.STDOUT, env=env or clean_env())

    def wait_started(self, spool, timeout=10):
        """True once this watcher wrote its status.json (signals are handled)."""
        def up():
            try:
                with open(os.path.join(spool, "status.json")) as fh:
                    return json.load(fh).get("pid") == self.proc.pid
            except (OSError, ValueError):
                return False
        return wait_for(up, timeout)

    def signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.logfh.close()

    def log(self):
        with open(self.logpath, "rb") as fh:
            return fh.read().decode(errors="replace")


def write_marker(covdir, name, obj):
    d = os.path.join(covdir, ".covship")
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{name}.tmp")
    with open(tmp, "w") as fh:
        json.dump(obj, fh)
    os.rename(tmp, os.path.join(d, name))


def fake_run(covdir, run_id):
    """What the shim writes at start: run.json and the per-run data dir."""
    write_marker(covdir, "run.json", {"schema": 1, "run_id": run_id,
                                      "data_dir": f"run-{run_id}"})
    d = os.path.join(covdir, f"run-{run_id}")
    os.makedirs(d, exist_ok=True)
    return d


def fake_done(covdir, run_id):
    write_marker(covdir, "done.json", {"schema": 1, "run_id": run_id,
                                       "status": "complete", "exit_status": 0})


def bundles(dest):
    """Every bundle under dest, sorted by path."""
    out = []
    for dp, dn, fn in os.walk(dest):
        out += [os.path.join(dp, f) for f in fn
                if f.endswith(".tar.gz") or f.endswith(".tar.zst")]
    return sorted(out)


def _open_tar(path):
    if path.endswith(".tar.zst"):
        raw = subprocess.run(["zstd", "-dc", path], check=True,
                             stdout=subprocess.PIPE).stdout
        return tarfile.open(fileobj=io.BytesIO(raw), mode="r:")
    return tarfile.open(path, "r:gz")


def read_bundle(path):
    """(entries {raw name bytes: content}, manifest dict, problems [str])."""
    problems = []
    entries = {}
    names = []
    with _open_tar(path) as t:
        for m in t.getmembers():
            raw = m.name.encode("utf-8", "surrogateescape")
            names.append(raw)
            if not m.isfile():
                problems.append(f"non-regular entry {raw!r}")
                continue
            if raw.startswith(b"/") or b".." in raw.split(b"/"):
                problems.append(f"unsafe entry {raw!r}")
            entries[raw] = t.extractfile(m).read()
    if not names or names[-1] != b"covship-manifest.json":
        problems.append("manifest is not the last entry")
    man = json.loads(entries.pop(b"covship-manifest.json", b"{}") or b"{}")
    listed = {}
    for f in man.get("files", []):
        if "path" in f:
            p = f["path"].encode("utf-8", "surrogateescape")
        else:
            import base64
            p = base64.b64decode(f["path_b64"])
        listed[p] = f
    if set(listed) != set(entries):
        problems.append(f"manifest lists {sorted(listed)} but the archive holds {sorted(entries)}")
    for p, data in entries.items():
        f = listed.get(p)
        if f and (f["size"] != len(data) or f["sha256"] != hashlib.sha256(data).hexdigest()):
            problems.append(f"{p!r}: size/sha256 differ from the manifest")
    return entries, man, problems


def delivered_files(dest):
    """{raw path: [content, ...]} over every bundle, plus problems."""
    seen = {}
    problems = []
    manifests = []
    for b in bundles(dest):
        entries, man, probs = read_bundle(b)
        problems += [f"{os.path.basename(b)}: {p}" for p in probs]
        manifests.append(man)
        for p, data in entries.items():
            seen.setdefault(p, []).append(data)
    return seen, manifests, problems


def spool_leftovers(spool):
    """Plans, bundles and temporaries still in the spool."""
    if not os.path.isdir(spool):
        return []
    return sorted(f for f in os.listdir(spool)
                  if f.endswith(".plan.json") or ".tar." in f or ".tmp." in f)


def run(covship, args, env=None, timeout=60):
    return subprocess.run([covship] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env or clean_env(), timeout=timeout)
