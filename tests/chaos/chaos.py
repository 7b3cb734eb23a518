#!/usr/bin/python3
"""The chaos run: app + covship-shim + covship watch + S3, broken on purpose.

    chaos.py --covship PATH --shim PATH --s3env FILE [--cycles N] [--seed S]

Each cycle: the test app (tests/app) under gunicorn behind covship-shim as
PID 1 of a fresh PID namespace; `covship watch` delivering to s3:// through
tests/lib/s3/faultproxy.py in front of radosgw (the ctest fixture s3server);
the spool on a small tmpfs. At random points the sidecar is SIGKILLed and
restarted, the proxy answers 503/500, resets or stalls, the app is stopped
early (before or while its workers boot), the spool's disk is filled (and
emptied again later, or never), the spool is deleted while the sidecar is
down (a sidecar container restarted with a fresh spool), and coverage files
the sidecar may not read are planted next to the workers' (mode 0600 of
another uid, the sidecar without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH).

What the workers wrote is recorded at the source: a gunicorn `child_exit`
hook (runs in the master after a worker was reaped, so its coverage file is
complete) logs (path, sha256) of every file that worker left. The audit then
reads every bundle that reached S3 (botocore, straight to radosgw), checks
each entry against its manifest and against that log, and counts each file:
delivered exactly once with the right SHA-256, or still kept (a bundle in
the spool, or the untouched source file) while the sidecar exited non-zero
and logged why. Anything else is lost; a second copy or a wrong SHA-256 is
corruption. One exception, by design: after the spool was deleted, a file
whose bundle was confirmed just before the kill, but not yet removed, is
delivered again, identical, under another key (the new spool has another
id): counted as "again", never as a loss. An unreadable file must still be
in the volume byte for byte, in no bundle, with a "cannot read" line and a
non-zero exit. Prints `N cycles, F files written, D delivered, S spooled,
U unreadable kept, L lost` and exits 1 on any loss or corruption.
"""
import argparse
import glob
import hashlib
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
APP_DIR = os.path.join(TOP, "tests", "app")
sys.path.insert(0, os.path.join(TOP, "tests", "lib", "s3"))
import s3helpers  # noqa: E402  (the fixture's env, botocore client, fault proxy)

PYTHON = "/usr/bin/python3"
WORKERS = 2
GRACE = 15
DRAIN = 8

# gunicorn config: record what each worker wrote, once it is gone.
# child_exit runs in the master after the worker was reaped (worker_exit
# would run in the worker itself, before its atexit save).
HOOK = r'''
import glob, hashlib, json, os
def child_exit(server, worker):
    d = os.environ.get("COVSHIP_DATA_DIR")
    if not d:
        return
    with open(os.environ["CHAOS_WRITTEN"], "a") as log:
        for p in glob.glob(os.path.join(d, ".coverage.*.%d.*" % worker.pid)):
            with open(p, "rb") as f:
                h = hashlib.sha256(f.read()).hexdigest()
            log.write(json.dumps({"path": os.path.relpath(p, os.environ["CHAOS_COVDIR"]),
                                  "sha256": h}) + "\n")
        log.flush()
        os.fsync(log.fileno())
'''


def children_of(pid):
    kids = []
    for f in glob.glob("/proc/%d/task/*/children" % pid):
        try:
            with open(f) as fh:
                kids += [int(x) for x in fh.read().split()]
        except OSError:
            pass
    return kids


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = pred()
        if r:
            return r
        time.sleep(step)
    return pred()


def get(sock, path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(sock)
        s.sendall(("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" % path).encode())
        while s.recv(65536):
            pass
    except OSError:
        pass
    finally:
        s.close()


class Sidecar:
    """`covship watch`, restartable; every run appends to one log."""

    def __init__(self, covship, args, env, log, spool, wrap=()):
        self.covship, self.args, self.env, self.log = covship, args, env, log
        self.spool, self.wrap = spool, list(wrap)
        self.proc = None
        self.rcs = []
        self.kills = 0

    def start(self):
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(self.wrap + [self.covship, "watch"] + self.args,
                                         env=self.env,
                                         stdout=fh, stderr=subprocess.STDOUT)

    def sigkill(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.kills += 1

    def stop(self, timeout):
        """SIGTERM (drain) and wait; None when it did not exit in time."""
        # A watcher restarted a moment ago may not handle signals yet (the
        # default action of SIGTERM would kill it): wait until its
        # status.json names it, as an orchestrator's health check would.
        wait_for(lambda: self._up() or self.proc.poll() is not None, 10)
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            rc = None
        self.rcs.append(rc)
        return rc

    def _up(self):
        try:
            with open(os.path.join(self.spool, "status.json")) as fh:
                return json.load(fh).get("pid") == self.proc.pid
        except (OSError, ValueError):
            return False

    def text(self):
        with open(self.log, "rb") as fh:
            return fh.read().decode(errors="replace")


def fill(path):
    """Fill the filesystem of path: one file written until ENOSPC."""
    try:
        with open(path, "wb") as f:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
    except OSError:
        pass


def proxy_rules(rng):
    """A random set of S3 faults for one cycle (bounded: the run can end)."""
    actions = ["slowdown", "error500", "reset_request", "reset_response", "stall"]
    rules = []
    for _ in range(rng.randint(0, 3)):
        r = {"action": rng.choice(actions), "skip": rng.randint(0, 3),
             "count": rng.randint(1, 3)}
        if r["action"] == "stall":
            r["seconds"] = rng.choice([1, 2, 3])
        if rng.random() < 0.5:
            r["method"] = "PUT"
        rules.append(r)
    return rules


def read_bundle(data):
    """(entries {raw path: bytes}, manifest, problems) of one bundle's bytes."""
    problems, entries, names = [], {}, []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        for m in t.getmembers():
            raw = m.name.encode("utf-8", "surrogateescape")
            names.append(raw)
            if m.isfile():
                entries[raw] = t.extractfile(m).read()
            else:
                problems.append("non-regular entry %r" % raw)
    if not names or names[-1] != b"covship-manifest.json":
        problems.append("manifest is not the last entry")
    man = json.loads(entries.pop(b"covship-manifest.json", b"{}") or b"{}")
    for f in man.get("files", []):
        p = f.get("path", "").encode("utf-8", "surrogateescape")
        if p not in entries:
            problems.append("manifest lists %r, archive lacks it" % p)
        elif hashlib.sha256(entries[p]).hexdigest() != f.get("sha256"):
            problems.append("%r: SHA-256 differs from the manifest" % p)
    return entries, man, problems


class Cycle:
    def __init__(self, n, a, env, rng, work):
        self.n, self.a, self.env, self.rng = n, a, env, rng
        self.dir = os.path.join(work, "cycle-%d" % n)
        self.covdir = os.path.join(self.dir, "cov")
        self.spoolfs = os.path.join(self.dir, "spoolfs")
        self.spool = os.path.join(self.spoolfs, "spool")
        self.written = os.path.join(self.dir, "written.jsonl")
        self.prefix = "%s/cycle-%d" % (a.prefix, n)
        self.events = []
        self.spool_lost = False
        self.unreadable = {}  # raw relative path -> sha256: must stay in the volume
        for d in (self.covdir, self.spoolfs):
            os.makedirs(d)

    def ev(self, what):
        self.events.append(what)

    def run(self):
        rng = self.rng
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", self.spoolfs],
                       check=True)
        self.proxy = self.sidecar = self.app = self.shim = None
        self.stuck = False
        try:
            os.makedirs(self.spool)
            self._run(rng)
        finally:
            self.cleanup()
            subprocess.run(["umount", "-l", self.spoolfs])

    def cleanup(self):
        """Whatever this cycle started and is still running (after an error)."""
        if self.app and self.app.poll() is None:
            try:
                # PID 1 of the namespace: the kernel kills the rest with it
                os.kill(self.shim or self.app.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.app.wait()
        if self.sidecar:
            self.sidecar.sigkill()
        if self.proxy and self.proxy.proc.poll() is None:
            self.proxy.stop()

    def _run(self, rng):
        rules = proxy_rules(rng)
        self.ev("proxy %s" % ",".join(r["action"] for r in rules) if rules else "proxy ok")
        proxy = self.proxy = s3helpers.FaultProxy(self.env, rules, self.dir)
        senv = s3helpers.child_env(self.env)
        args = ["--dir", self.covdir, "--dest", "s3://%s/%s" % (self.env["COVSHIP_TEST_BUCKET"],
                                                                  self.prefix),
                "--spool", self.spool, "--endpoint", proxy.endpoint, "--path-style",
                "--region", self.env["AWS_REGION"], "--drain-timeout", str(DRAIN),
                "--retry-max", "1", "--log-level", "info"]
        # some cycles: a sidecar without the capabilities that let root read
        # any file (ECS/Kubernetes drop: ALL), next to unreadable files
        capless = rng.random() < 0.3
        wrap = (["setpriv", "--inh-caps=-all",
                 "--bounding-set=-dac_override,-dac_read_search"] if capless else [])
        self.sidecar = Sidecar(self.a.covship, args, senv,
                               os.path.join(self.dir, "sidecar.log"), self.spool, wrap)
        self.sidecar.start()
        filler = os.path.join(self.spoolfs, "filler")
        full = rng.random() < 0.3
        if full:
            # once the watcher is up: a disk that fills while it runs (a full
            # spool at start is a configuration error, exit 2, by design)
            wait_for(self.sidecar._up, 10)
            fill(filler)
            self.ev("spool full")
        hook = os.path.join(self.dir, "hook.py")
        with open(hook, "w") as f:
            f.write(HOOK)
        sock = os.path.join(self.dir, "app.sock")
        ready = os.path.join(self.dir, "ready")
        os.makedirs(ready)
        aenv = {k: v for k, v in os.environ.items() if not k.startswith("COVSHIP_")}
        aenv.update(CHAOS_WRITTEN=self.written, CHAOS_COVDIR=self.covdir,
                    TESTAPP_READY_DIR=ready, PYTHONDONTWRITEBYTECODE="1")
        if rng.random() < 0.3:
            aenv["TESTAPP_FLUSH_DELAY"] = "0.5"
            self.ev("slow flush")
        app = self.app = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--", self.a.shim,
             "--coverage-dir", self.covdir, "--grace", str(GRACE), "--",
             PYTHON, "-m", "gunicorn", "-c", hook, "--chdir", APP_DIR, "-w", str(WORKERS),
             "-b", "unix:" + sock, "--graceful-timeout", "10", "--log-level", "warning",
             "project.wsgi"], env=aenv, stdout=open(os.path.join(self.dir, "app.log"), "wb"),
            stderr=subprocess.STDOUT)
        shim = wait_for(lambda: children_of(app.pid), 5)
        shim = self.shim = shim[0] if shim else None
        early = rng.random() < 0.25
        kill_times = sorted(rng.uniform(0, 3) for _ in range(rng.randint(0, 2)))
        t0 = time.monotonic()
        if early:
            time.sleep(rng.uniform(0.1, 1.0))
            self.ev("app stopped early")
        else:
            wait_for(lambda: len(os.listdir(ready)) >= WORKERS, 20)
            for i in range(rng.randint(5, 30)):
                get(sock, rng.choice(["/", "/items/", "/items/3/", "/echo/?text=x",
                                      "/compute/15/", "/whoami/"]))
        if capless and not early:
            self.plant_unreadable()
        # SIGKILL + restart of the sidecar at random instants around the stop.
        killer = threading.Thread(target=self._killer, args=(kill_times, t0))
        killer.start()
        if shim:
            try:
                os.kill(shim, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            app.wait(GRACE + 20)
        except subprocess.TimeoutExpired:
            os.kill(shim or app.pid, signal.SIGKILL)
            app.wait()
            self.ev("app did not stop")
            self.stuck = True
        killer.join()
        if full:
            if rng.random() < 0.7:
                time.sleep(rng.uniform(0, 2))
                os.unlink(filler)
                self.ev("spool freed")
            else:
                self.ev("spool stays full")
        self.rc = self.sidecar.stop(DRAIN + 30)
        proxy.stop()
        if os.path.exists(filler):
            os.unlink(filler)

    def _killer(self, times, t0):
        for t in times:
            time.sleep(max(0, t0 + t - time.monotonic()))
            self.sidecar.sigkill()
            self.ev("sidecar SIGKILL")
            if self.rng.random() < 0.3:
                # the sidecar container restarted with a spool of its own:
                # every plan and spooled bundle is gone, the sources are not
                shutil.rmtree(self.spool, ignore_errors=True)
                os.makedirs(self.spool, exist_ok=True)
                self.spool_lost = True
                self.ev("spool lost")
            time.sleep(self.rng.uniform(0, 0.5))
            self.sidecar.start()

    def plant_unreadable(self):
        """Coverage files the capless sidecar may not read: 0600, uid 1000.
        Planted in the run's data directory before the stop, as a worker
        running under another uid with umask 077 would leave them."""
        runs = glob.glob(os.path.join(self.covdir, "run-*"))
        where = runs[0] if runs else self.covdir
        for i in range(self.rng.randint(1, 2)):
            p = os.path.join(where, ".coverage.chaos-unreadable.%d.%06d" % (
                i, self.rng.randrange(10 ** 6)))
            data = os.urandom(self.rng.randint(100, 4000))
            with open(p, "wb") as f:
                f.write(data)
            os.chown(p, 1000, 1000)
            os.chmod(p, 0o600)
            self.unreadable[os.path.relpath(p, self.covdir).encode()] = (
                hashlib.sha256(data).hexdigest())
        self.ev("%d unreadable file(s)" % len(self.unreadable))


def audit(cycle, client, bucket, tally):
    """Compare what the workers wrote with S3 and the spool; returns problems."""
    problems = []
    written = {}
    if os.path.exists(cycle.written):
        with open(cycle.written) as f:
            for line in f:
                e = json.loads(line)
                written[e["path"].encode("utf-8", "surrogateescape")] = e["sha256"]
    delivered = {}
    token = None
    while True:
        kw = {"Bucket": bucket, "Prefix": cycle.prefix + "/"}
        if token:
            kw["ContinuationToken"] = token
        r = client.list_objects_v2(**kw)
        for o in r.get("Contents", []):
            if not o["Key"].endswith(".tar.gz"):
                continue
            data = client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            entries, _, probs = read_bundle(data)
            problems += ["%s: %s" % (o["Key"], p) for p in probs]
            for p, content in entries.items():
                delivered.setdefault(p, []).append(hashlib.sha256(content).hexdigest())
        if not r.get("IsTruncated"):
            break
        token = r["NextContinuationToken"]
    kept = {}
    for b in glob.glob(os.path.join(cycle.spool, "**", "*.tar.gz"), recursive=True):
        with open(b, "rb") as f:
            try:
                entries, _, _ = read_bundle(f.read())
            except (tarfile.TarError, OSError, EOFError):
                continue  # an unfinished temporary: its sources are still in place
        for p, content in entries.items():
            kept[p] = hashlib.sha256(content).hexdigest()
    for p, sha in written.items():
        src = os.path.join(cycle.covdir.encode(), p)
        if p not in kept and os.path.exists(src):
            with open(src, "rb") as f:
                kept[p] = hashlib.sha256(f.read()).hexdigest()
    log = cycle.sidecar.text()
    for p, sha in cycle.unreadable.items():
        src = os.path.join(cycle.covdir.encode(), p)
        try:
            with open(src, "rb") as f:
                intact = hashlib.sha256(f.read()).hexdigest() == sha
        except OSError:
            intact = False
        if p in delivered:
            problems.append("%r is unreadable to the sidecar but reached S3" % p)
        if not intact:
            tally["lost"] += 1
            problems.append("%r (unreadable to the sidecar) LOST: not in the volume as "
                            "written" % p)
            continue
        tally["unreadable"] += 1
        if cycle.rc == 0:
            problems.append("%r could not be read but the sidecar exited 0" % p)
        # a spool that stays full stops every bundle before any file is
        # opened: then the full spool is the logged reason, not the file
        named = "cannot read %s" % p.decode(errors="replace") in log
        if not named and ("spool stays full" not in cycle.events or "error" not in log):
            problems.append("%r could not be read and no line names it" % p)
    if cycle.stuck:
        problems.append("the app under covship-shim did not stop within grace + 20 s")
    for p, sha in written.items():
        got = delivered.get(p, [])
        if len(got) > 1 and cycle.spool_lost and all(g == sha for g in got):
            tally["again"] += 1  # confirmed, then its spool was lost before the clean-up
        elif len(got) > 1:
            problems.append("%r delivered %d times" % (p, len(got)))
        if got and any(g != sha for g in got):
            problems.append("%r delivered with a wrong SHA-256" % p)
        elif got:
            tally["delivered"] += 1
        elif kept.get(p) == sha:
            if cycle.rc == 0:
                problems.append("%r left behind but the sidecar exited 0" % p)
            elif "error" not in log and "warning" not in log:
                problems.append("%r left behind without a logged reason" % p)
            else:
                tally["spooled"] += 1
        else:
            tally["lost"] += 1
            problems.append("%r LOST (written with sha256 %s)" % (p, sha[:12]))
    for p in delivered:
        if p not in written and p not in cycle.unreadable:
            problems.append("%r reached S3 but no worker reported writing it" % p)
    tally["written"] += len(written)
    return problems


def control(cycles, client, bucket):
    """The audit must see a loss: delete one delivered bundle that holds
    coverage data (a bundle may hold only the shim's marker, and deleting
    that one loses no file), audit again."""
    victim = None
    for cycle in reversed(cycles):
        for o in client.list_objects_v2(Bucket=bucket,
                                        Prefix=cycle.prefix + "/").get("Contents", []):
            if not o["Key"].endswith(".tar.gz"):
                continue
            data = client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            entries, man, _ = read_bundle(data)
            if entries:
                victim = o["Key"]
                break
            print("control: %s holds no coverage file (marker %s)" % (
                o["Key"], json.dumps((man or {}).get("marker"))[:200]), flush=True)
        if victim:
            break
    else:
        return ["control: no cycle delivered coverage data, the audit cannot be checked"]
    keys = [victim]
    client.delete_object(Bucket=bucket, Key=keys[0])
    t = {"written": 0, "delivered": 0, "spooled": 0, "unreadable": 0, "again": 0,
             "lost": 0}
    audit(cycle, client, bucket, t)
    if t["lost"] == 0:
        return ["control: deleting %s from S3 went unnoticed by the audit" % keys[0]]
    print("control: deleting one delivered bundle is caught (%d lost)" % t["lost"])
    return []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--covship", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--s3env", required=True, help="the s3server fixture's env file")
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: the chaos run needs root (unshare --pid, tmpfs mounts)")
        return 0
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    print("chaos: seed %d (rerun with --seed %d)" % (seed, seed), flush=True)
    rng = random.Random(seed)
    env = s3helpers.load_env(a.s3env)
    a.prefix = "chaos-%s" % uuid.uuid4().hex[:10]
    client = s3helpers.botocore_client(env)
    work = tempfile.mkdtemp(prefix="covship-chaos.")
    tally = {"written": 0, "delivered": 0, "spooled": 0, "unreadable": 0, "again": 0,
             "lost": 0}
    problems = []
    done = []
    try:
        for n in range(1, a.cycles + 1):
            c = Cycle(n, a, env, rng, work)
            c.run()
            probs = audit(c, client, env["COVSHIP_TEST_BUCKET"], tally)
            print("cycle %d: %s; sidecar exits %s, %d SIGKILL(s)%s" % (
                n, ", ".join(c.events), c.sidecar.rcs, c.sidecar.kills,
                "" if not probs else "; PROBLEMS:"), flush=True)
            for p in probs:
                print("  " + p, flush=True)
                if "sidecar" in p or "LOST" in p:
                    sys.stdout.write(c.sidecar.text()[-3000:])
            problems += probs
            done.append(c)
        problems += control(done, client, env["COVSHIP_TEST_BUCKET"])
    finally:
        if a.keep:
            print("chaos: scratch kept in %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("%d cycles, %d files written, %d delivered, %d spooled, %d unreadable kept, "
          "%d lost (%d delivered again after a spool loss)" % (
              a.cycles, tally["written"], tally["delivered"], tally["spooled"],
              tally["unreadable"], tally["lost"], tally["again"]))
    if tally["written"] == 0:
        problems.append("no coverage file was written at all: the run proved nothing")
    if problems:
        print("FAIL: %d problem(s)" % len(problems))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
