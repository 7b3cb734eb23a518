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
import signal
import subprocess
import sys
import tarfile

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))

# The PASS/FAIL checker, scratch dir and polling are the shim tests' own
# (one output format for every integration test).
sys.path.insert(0, os.path.join(HERE, "..", "shim"))
import testlib  # noqa: E402
from testlib import Checker, wait_for  # noqa: E402,F401  (re-exported)


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


class Scratch(testlib.Scratch):
    def __init__(self, keep=False):
        super().__init__(keep, prefix="covship-sidecartest.")


def clean_env(**kv):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVSHIP_")}
    env.setdefault("AWS_EC2_METADATA_DISABLED", "true")  # no test asks 169.254.169.254
    for k, v in kv.items():
        if v is not None:
            env[k] = str(v)
    return env


class Watch:
    """`covship watch` started by a test; output to a log file. `wrap`: a
    command that runs it (e.g. setpriv dropping capabilities)."""

    def __init__(self, covship, args, log, env=None, wrap=None):
        self.logpath = log
        self.logfh = open(log, "ab")
        self.proc = subprocess.Popen((wrap or []) + [covship, "watch"] + args, stdout=self.logfh,
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


def verify_exactly_once(dest, originals):
    """(ok, detail): every original {raw path: sha256 hex} delivered exactly
    once and intact over all bundles in dest, and nothing else."""
    seen, mans, probs = delivered_files(dest)
    problems = list(probs)
    for p, h in originals.items():
        got = seen.get(p, [])
        if len(got) != 1:
            problems.append(f"{p!r} delivered {len(got)} times")
        elif hashlib.sha256(got[0]).hexdigest() != h:
            problems.append(f"{p!r} corrupt")
    extra = set(seen) - set(originals)
    if extra:
        problems.append(f"unexpected {sorted(extra)[:3]}")
    return not problems, "; ".join(problems[:5])


def spool_leftovers(spool):
    """Plans, bundles and temporaries still in the spool."""
    if not os.path.isdir(spool):
        return []
    return sorted(f for f in os.listdir(spool)
                  if f.endswith(".plan.json") or ".tar." in f or ".tmp." in f)


def run(covship, args, env=None, timeout=60, wrap=None):
    return subprocess.run((wrap or []) + [covship] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env or clean_env(), timeout=timeout)


def delivered_keys(log):
    """The keys a push/watch log says it delivered ("delivered B (N files) as KEY")."""
    import re
    return re.findall(r"delivered \S+ \(\d+ files\) as (\S+)", log)


def key_collisions(*key_lists):
    """Keys that two different deliveries (one list each: a push, a spool)
    both wrote. A key must name one bundle only: a second bundle under it
    either replaces the first (coverage lost) or is refused (stuck)."""
    seen, dup = {}, set()
    for i, keys in enumerate(key_lists):
        for k in set(keys):
            if k in seen and seen[k] != i:
                dup.add(k)
            seen.setdefault(k, i)
    return sorted(dup)
