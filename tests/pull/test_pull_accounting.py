"""Issue 12, test 7 (first part): per-process accounting names whose
coverage is missing.

The Django test app runs under gunicorn (2 workers, --graceful-timeout 1)
behind the real covship-shim as PID 1 of a new PID namespace. One request to
/slow/ outlives the graceful timeout, so gunicorn SIGKILLs that worker: its
data is lost, gunicorn reaps it, and the shim's marker still says
"complete". `covship push` bundles the data with the marker; `covship pull`
must name the killed worker (pid and command from done.json's
tree_at_stop) and exit 4. Control: the same run with a short request names
nobody and exits 0.

Also the shim's "killed_by_others": a main child that dies of a SIGKILL the
shim did not send is listed; control: one that exits on SIGTERM is not.

usage: test_pull_accounting.py COVSHIP APP_DIR COVSHIP_SHIM"""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import check, get, init_pid, pull, scratch, wait_for  # noqa: E402

COVSHIP, APP, SHIM = sys.argv[1], sys.argv[2], sys.argv[3]
PYTHON = "/usr/bin/python3"
WORKERS = 2


def stop(proc, shim):
    if proc.poll() is None:
        if shim:
            os.kill(shim, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait()


def run_app(top, cov, seconds):
    """Serve one /slow/?s=SECONDS request, SIGTERM the shim while it runs.
    Returns the pid of the worker that took the request (shim namespace)."""
    app = os.path.join(top, "app")
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns(
        "__pycache__", ".coverage", ".coverage.*", "*.pyc"))
    sock = os.path.join(top, "app.sock")
    ready = os.path.join(top, "ready")
    os.makedirs(ready)
    env = dict(os.environ, TESTAPP_READY_DIR=ready)
    env.pop("COVSHIP_DATA_DIR", None)
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "--", SHIM,
                             "--coverage-dir", cov, "--grace", "20", "--",
                             PYTHON, "-m", "gunicorn", "--chdir", app,
                             "-w", str(WORKERS), "--graceful-timeout", "1",
                             "-b", "unix:" + sock, "project.wsgi"], env=env)
    shim = None
    try:
        booted = wait_for(lambda: proc.poll() is not None or (
            len([f for f in os.listdir(ready) if f.startswith("ready.")]) == WORKERS
            and os.path.exists(sock)), 30) and proc.poll() is None
        check(booted, "gunicorn booted %d workers under covship-shim" % WORKERS)
        shim = init_pid(proc.pid)
        check(shim is not None, "found the shim (PID 1 of the namespace)")
        st, _ = get(sock, "/compute/10/")
        check(st == 200, "GET /compute/10/ answered")
        result = {}
        t = threading.Thread(target=lambda: result.update(
            r=get(sock, "/slow/?s=%g" % seconds, timeout=60)))
        t.start()
        started = wait_for(lambda: any(f.startswith("slow.") for f in os.listdir(ready)), 20)
        check(started, "the /slow/ request reached a worker")
        worker = int([f for f in os.listdir(ready) if f.startswith("slow.")][0][5:])
        if seconds == 0:
            t.join(20)
        os.kill(shim, signal.SIGTERM)
        proc.wait(timeout=40)
        t.join(60)
        if seconds == 0:
            check(result.get("r", (None,))[0] == 200, "the short request was answered")
        else:
            check(result.get("r", (200,))[0] != 200,
                  "the long request was cut (its worker was killed)")
    finally:
        stop(proc, shim)
    check(proc.returncode == 0, "the shim stopped gunicorn (exit 0)")
    return worker


def scenario(seconds):
    with scratch() as top:
        cov = os.path.join(top, "cov")
        os.makedirs(cov)
        worker = run_app(top, cov, seconds)
        with open(os.path.join(cov, ".covship", "done.json")) as f:
            done = json.load(f)
        with open(os.path.join(cov, ".covship", "run.json")) as f:
            run = json.load(f)
        check(done["status"] == "complete",
              "the marker says complete either way (what the issue reports)")
        tree = {p["pid"]: p for p in done["tree_at_stop"]}
        check(worker in tree, "done.json's tree_at_stop lists the worker %d" % worker)
        check(done["tree_at_stop_truncated"] is False, "the tree is not truncated")
        w = tree[worker]
        check("gunicorn" in w["cmd"] and isinstance(w["start_ticks"], int)
              and w["ppid"] in tree, "the worker's entry has cmd, start time and parent")
        # gunicorn 20.1's master SIGKILLs the late worker and exits without
        # reaping it, so the shim reaps it and flags it; a master that reaps
        # its worker first leaves the list empty. Never anyone else.
        kbo = done["killed_by_others"]
        if seconds:
            check(all(k["pid"] == worker and k["cmd"] == w["cmd"] for k in kbo),
                  "killed_by_others names at most the killed worker: %r" % kbo)
        else:
            check(kbo == [], "control: killed_by_others is empty")
        files = os.listdir(os.path.join(cov, run["data_dir"]))
        writers = {int(f.split(".")[-2]) for f in files if f.startswith(".coverage.")}
        dest = os.path.join(top, "dest")
        os.makedirs(dest)
        r = subprocess.run([COVSHIP, "push", "--dir", cov, "--dest", "file://" + dest,
                            "--spool", os.path.join(top, "spool")],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "covship push delivered the bundle")
        junit = os.path.join(top, "junit.xml")
        p = pull(COVSHIP, ["file://" + dest, "--out", os.path.join(top, "out"),
                           "--junit", junit])
        with open(junit) as f:
            jx = f.read()
        named = "worker %d (`%s`) wrote no coverage data; was it killed after " \
                "--graceful-timeout?" % (worker, w["cmd"])
        if seconds:
            check(worker not in writers, "the killed worker left no data file")
            check(p.returncode == 4, "pull exits 4 (incomplete)")
            check(named in p.stderr, "pull names the killed worker's pid and command")
            check("<failure" in jx and ("worker %d (`" % worker) in jx
                  and "wrote no coverage data" in jx,
                  "the run's JUnit case fails, naming the killed worker")
            check(p.stderr.count("wrote no coverage data;") == 1,
                  "nobody else is named (the master, the other worker)")
            check("runs: 1, with an incomplete flush: 1" in p.stdout,
                  "the summary counts the run as incomplete")
            p = pull(COVSHIP, ["file://" + dest, "--out", os.path.join(top, "out2"),
                               "--allow-incomplete"])
            check(p.returncode == 0 and named in p.stderr and "warning" in p.stderr,
                  "--allow-incomplete: the same line as a warning, exit 0")
        else:
            check(worker in writers, "control: the worker wrote its data file")
            check(p.returncode == 0, "control: pull exits 0")
            check("wrote no coverage data" not in p.stderr, "control: nobody is named")
            check("<failure" not in jx and "<testcase" in jx,
                  "control: the run's JUnit case passes")
            check("runs: 1, with an incomplete flush: 0" in p.stdout,
                  "control: the run is complete")


def killed_by_others(self_kill):
    """The main child dies of a SIGKILL it sends itself (not the shim)."""
    code = ("import os, signal, sys, time\n"
            "def h(*a):\n"
            "    os.kill(os.getpid(), signal.SIGKILL) if %r else sys.exit(0)\n"
            "signal.signal(signal.SIGTERM, h)\n"
            "open(sys.argv[1], 'w').close()\n"
            "time.sleep(60)\n" % self_kill)
    with scratch() as top:
        cov = os.path.join(top, "cov")
        flag = os.path.join(top, "up")
        proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "--", SHIM,
                                 "--coverage-dir", cov, "--grace", "10", "--",
                                 PYTHON, "-c", code, flag])
        shim = None
        try:
            check(wait_for(lambda: os.path.exists(flag), 20), "the main child is up")
            shim = init_pid(proc.pid)
            os.kill(shim, signal.SIGTERM)
            proc.wait(timeout=30)
        finally:
            stop(proc, shim)
        with open(os.path.join(cov, ".covship", "done.json")) as f:
            done = json.load(f)
        kbo = done["killed_by_others"]
        if self_kill:
            check(len(kbo) == 1 and kbo[0]["pid"] == done["main"]["pid"]
                  and kbo[0]["cmd"].startswith(PYTHON + " -c import os"),
                  "killed_by_others names the main child and its command: %r" % kbo)
            check(done["main"]["signal"] == 9 and done["status"] == "complete",
                  "it died of SIGKILL, the grace did not expire")
        else:
            check(kbo == [], "control: a child that exits on SIGTERM is not flagged")


def main():
    scenario(30)
    scenario(0)
    killed_by_others(True)
    killed_by_others(False)
    print("PASS")


if __name__ == "__main__":
    main()
