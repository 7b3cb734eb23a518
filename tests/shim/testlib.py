"""Shared helpers of the covship-shim integration tests.

Every test script takes `--shim PATH` (ctest passes $<TARGET_FILE:covship-shim>)
and prints one `PASS:`/`FAIL:` line per check, then `RESULT: PASS|FAIL`; the
exit status is 0 only when every check passed.

An init runs as a real PID 1 via `unshare --pid --fork --mount-proc INIT ...`:
the kernel then drops signals PID 1 has no handler for, re-parents orphans to
it, and SIGKILLs the whole namespace when it exits.  `Namespace` finds the
namespace's PID 1 (the child of `unshare`) so signals go to the init itself.
Clean-up only ever signals PIDs these helpers started: SIGKILL to the
namespace's PID 1 takes every process inside the namespace with it.

Needs Debian's python3, gunicorn 20.1, python3-django, python3-coverage,
tini and dumb-init, and root (for unshare).
"""
import argparse
import glob
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
APP_DIR = os.path.normpath(os.path.join(HERE, "..", "app"))
TINI = "/usr/bin/tini"
DUMB_INIT = "/usr/bin/dumb-init"


class Checker:
    """Collects PASS/FAIL lines; `finish()` prints the verdict and exits.

    `labels` renames the two tags, for a control run whose failures are
    expected (the sidecar tests use it).  Also used by tests/sidecar."""

    def __init__(self, name, labels=("PASS", "FAIL")):
        self.labels = labels
        self.name = name
        self.failed = 0
        self.passed = 0
        self.t0 = time.monotonic()
        print(f"=== {name}", flush=True)

    def check(self, ok, what, detail=""):
        tag = self.labels[0] if ok else self.labels[1]
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        line = f"{tag}: {what}"
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
    p.add_argument("--shim", required=True, help="path of covship-shim")
    p.add_argument("--keep", action="store_true", help="keep the scratch dir")
    if extra:
        extra(p)
    a = p.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root (unshare --pid creates a PID namespace)",
              flush=True)
        sys.exit(77)
    missing = [f for f in (TINI, DUMB_INIT, "/usr/bin/unshare")
               if not os.access(f, os.X_OK)]
    r = subprocess.run([PYTHON, "-c", "import gunicorn, django, coverage"],
                       capture_output=True)
    if missing or r.returncode != 0:
        print(f"FAIL: missing {missing or ''} {r.stderr.decode()[-200:]}; "
              "run scripts/deps.sh (tini dumb-init gunicorn python3-django "
              "python3-coverage)", flush=True)
        sys.exit(1)
    if not os.access(a.shim, os.X_OK):
        print(f"FAIL: covship-shim not executable at {a.shim}", flush=True)
        sys.exit(1)
    return a


class Scratch:
    """A mktemp -d scratch dir under /tmp, removed at the end, after the
    callables in `cleanups` ran (last added first)."""

    def __init__(self, keep=False, prefix="covship-shimtest."):
        self.path = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.path, 0o755)
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


def children_of(pid):
    """Direct children of pid (from /proc/PID/task/*/children)."""
    out = []
    for f in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(f) as fh:
                out += [int(x) for x in fh.read().split()]
        except OSError:
            pass
    return out


def proc_stat(pid):
    """(state, ppid) of pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            s = fh.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def proc_status(pid):
    """/proc/PID/status as a dict, or {} when it is gone."""
    d = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                k, _, v = line.partition(":")
                d[k] = v.strip()
    except OSError:
        pass
    return d


def descendants(pid):
    """All descendants of pid (host PIDs), from one scan of /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = proc_stat(int(d))
        if st:
            kids.setdefault(st[1], []).append((int(d), st[0]))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c, state in kids.get(p, []):
            out.append((c, state))
            todo.append(c)
    return out


def wait_for(pred, timeout, step=0.02):
    """pred()'s first true value, or its last value after timeout s."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


class Namespace:
    """`unshare --pid --fork --mount-proc ARGV...`: ARGV[0] becomes PID 1.

    `init_pid` is the host PID of that PID 1.  `stop()` waits for the exit
    and returns (exit status of unshare = status of PID 1, seconds).
    """

    def __init__(self, argv, env=None, stdout=None, stderr=None,
             preexec_fn=None, cwd=None):
        self.argv = argv
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--"] + argv,
            env=env, stdout=stdout, stderr=stderr, preexec_fn=preexec_fn,
            cwd=cwd)
        self.init_pid = None
        kids = wait_for(lambda: children_of(self.proc.pid)
                        or self.proc.poll() is not None, 5)
        if kids is True or not kids:
            # PID 1 already gone (e.g. the init refused its arguments):
            # signal() is then a no-op and wait() returns its status.
            return
        self.init_pid = kids[0]
        # Wait until the child of unshare has exec'd the init.
        exe = os.path.realpath(argv[0]) if os.path.exists(argv[0]) else None
        if exe:
            wait_for(lambda: self._exe() == exe, 5)

    def _exe(self):
        try:
            return os.readlink(f"/proc/{self.init_pid}/exe")
        except OSError:
            return None

    def signal(self, sig):
        if self.init_pid is None:
            return
        try:
            os.kill(self.init_pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout):
        """Exit status of PID 1 (as unshare reports it), or None on timeout."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return rc

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        """Clean-up: SIGKILL our PID 1 (the kernel kills its namespace)."""
        if self.proc.poll() is None:
            try:
                if getattr(self, "init_pid", None):
                    os.kill(self.init_pid, signal.SIGKILL)
                else:
                    self.proc.kill()
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- the Django test app under gunicorn -------------------------------------

def gunicorn_argv(sock, workers=4, extra=()):
    return [PYTHON, "-m", "gunicorn", "--chdir", APP_DIR, "-w", str(workers),
        "-b", "unix:" + sock, "--graceful-timeout", "20",
        "--log-level", "warning"] + list(extra) + ["project.wsgi"]


def app_env(**kv):
    env = dict(os.environ)
    for k in ("COVSHIP_DATA_DIR", "COVSHIP_RUN_ID", "COVERAGE_DIR",
          "COVSHIP_DIR", "COVSHIP_GRACE", "TESTAPP_FLUSH_DELAY",
          "TESTAPP_SIGTERM_HANDLER", "COVERAGE_PROCESS_START"):
        env.pop(k, None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"   # keep the source tree clean
    for k, v in kv.items():
        if v is not None:
            env[k] = str(v)
    return env


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=5):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def request(sock, path, timeout=5):
    """GET path over the unix socket: (status, body bytes)."""
    c = _UnixHTTPConnection(sock, timeout)
    try:
        c.request("GET", path, headers={"Host": "localhost"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_ready(sock, timeout=20):
    def ok():
        try:
            return request(sock, "/whoami/", 2)[0] == 200
        except OSError:
            return False
    return wait_for(ok, timeout, 0.05)


REQUESTS = ["/", "/items/", "/items/2/", "/items/9/", "/echo/?text=hi",
        "/compute/20/", "/whoami/"]


def load(sock, n=50):
    """n requests spread over the views; returns the set of worker pids seen."""
    pids = set()
    for i in range(n):
        path = REQUESTS[i % len(REQUESTS)]
        st, body = request(sock, path)
        if path == "/whoami/" and st == 200:
            pids.add(json.loads(body)["pid"])
    return pids


def gunicorn_pids(init_pid):
    """(master, [workers]) host PIDs of the gunicorn inside a namespace."""
    procs = {}
    for p, _ in descendants(init_pid):
        try:
            cmd = open(f"/proc/{p}/cmdline", "rb").read()
        except OSError:
            continue
        if b"gunicorn" in cmd:
            st = proc_stat(p)
            if st:
                procs[p] = st[1]
    masters = [p for p, pp in procs.items() if pp not in procs]
    master = masters[0] if len(masters) == 1 else None
    return master, sorted(p for p, pp in procs.items() if pp == master)


class App:
    """The test app under gunicorn behind `init_argv` as PID 1.

    init_argv: e.g. [shim, "--coverage-dir", d, "--"] or [TINI, "--"].
    shell=True runs gunicorn behind `sh -c 'gunicorn ...; true'` (no exec).
    Output of the whole namespace goes to <workdir>/ns.log.
    """

    def __init__(self, init_argv, workdir, workers=4, shell=False, **env):
        self.workdir = workdir
        self.workers = workers
        self.sock = os.path.join(workdir, "app.sock")
        self.ready = os.path.join(workdir, "ready")
        os.makedirs(self.ready, exist_ok=True)
        self.log = os.path.join(workdir, "ns.log")
        argv = gunicorn_argv(self.sock, workers)
        if shell:
            argv = ["/bin/sh", "-c", " ".join(argv) + "; true"]
        self.logfh = open(self.log, "wb")
        self.ns = Namespace(init_argv + argv,
                            env=app_env(TESTAPP_READY_DIR=self.ready, **env),
                            stdout=self.logfh, stderr=subprocess.STDOUT)

    def wait_booted(self, timeout=30):
        """True once every worker has loaded the app and one answers."""
        ok = wait_for(lambda: len(os.listdir(self.ready)) >= self.workers,
                      timeout, 0.05)
        return bool(ok) and bool(wait_ready(self.sock, timeout))

    def stop(self, timeout=40):
        """SIGTERM to PID 1; (status of PID 1 or None, seconds to exit)."""
        t0 = time.monotonic()
        self.ns.signal(signal.SIGTERM)
        rc = self.ns.wait(timeout)
        return rc, time.monotonic() - t0

    def log_tail(self, n=2000):
        try:
            with open(self.log, "rb") as fh:
                return fh.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def close(self):
        self.ns.kill()
        self.logfh.close()


def coverage_files(root):
    """Every coverage data file under root (any depth)."""
    out = []
    for dp, dn, fn in os.walk(root):
        out += [os.path.join(dp, f) for f in fn
            if f.startswith(".coverage.") and not f.endswith("-journal")]
    return sorted(out)


def read_data_files(paths):
    """Read each file with coverage.CoverageData (every measured file's
    lines).  Returns {path: (ok, n_measured_files or error text)}."""
    import coverage
    res = {}
    for p in paths:
        try:
            d = coverage.CoverageData(basename=p)
            d.read()
            files = d.measured_files()
            for f in files:
                d.lines(f)
            res[p] = (True, len(files))
        except Exception as e:      # any failure means an unusable file
            res[p] = (False, f"{type(e).__name__} {e}".replace("\n", " "))
    return res


def combine(paths, workdir):
    """Copy the data files into workdir and run `coverage combine` + report.
    Returns (ok, output) where ok means rc 0 and no warning printed."""
    os.makedirs(workdir, exist_ok=True)
    for p in paths:
        shutil.copy(p, workdir)
    rc = os.path.join(APP_DIR, ".coveragerc")
    r1 = subprocess.run([PYTHON, "-m", "coverage", "combine", "--rcfile", rc],
                cwd=workdir, capture_output=True, text=True, timeout=60)
    r2 = subprocess.run([PYTHON, "-m", "coverage", "report", "--rcfile", rc],
                cwd=workdir, capture_output=True, text=True, timeout=60)
    out = r1.stdout + r1.stderr + r2.stdout + r2.stderr
    warn = ("arning" in out) or ("Couldn't" in out) or ("no such table" in out)
    return r1.returncode == 0 and r2.returncode == 0 and not warn, out


def read_json(path):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def markers(covdir):
    """(run.json, done.json) dicts under covdir/.covship, None if absent."""
    return (read_json(os.path.join(covdir, ".covship", "run.json")),
        read_json(os.path.join(covdir, ".covship", "done.json")))
