#!/usr/bin/python3
"""Coverage setup, a worker with a multiprocessing child (docs/coverage-setup.md).

The test app under gunicorn (sync, 1 worker, --graceful-timeout 2) behind
covship-shim (--grace 8), recording as the example image does
(COVERAGE_PROCESS_START, docker/example-app/.coveragerc).  One request starts
a daemon multiprocessing child that runs 5 s (longer than the graceful
timeout), then SIGTERM to PID 1.  At the worker's exit multiprocessing's
atexit handler terminates the child, which ignores it (it inherited
gunicorn's SIGTERM handler), and joins it: the worker blocks until gunicorn
SIGKILLs it.

Documented config (`concurrency = thread, multiprocessing`): coverage.py's
atexit save runs before multiprocessing's, so the worker's data file exists
with the view's lines, and the child records its own file (the job's lines).
Control (the example config as it is): the worker wrote no file at all: the
view's lines are missing, which is the loss the docs describe.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from covsetup import (ProcessApp, data_files, marked_lines, measured,  # noqa: E402
                      write_rcfile)
from testlib import Checker, Scratch, markers, parse_args, request  # noqa: E402

GRACEFUL, GRACE, JOB = 2, 8, 5



def sigkilled(r):
    """Did the worker end by a SIGKILL? gunicorn logs "terminated due to
    signal 9" when it reaps it; gunicorn 20.1's master may exit without
    reaping, and then the shim reaps it and names it in done.json's
    killed_by_others (a SIGKILL the shim did not send). Either proves it;
    the log line alone was missed under load (the ASan run)."""
    kbo = {k.get("pid") for k in r["done"].get("killed_by_others") or []}
    return "terminated due to signal 9" in r["log"] or r["worker"] in kbo

def run(a, s, name, concurrency):
    """One app run; returns (worker pid, job pid, files, lines, done, rc, log)."""
    rc_file = write_rcfile(os.path.join(s.sub(name), "coveragerc"), concurrency)
    cov = s.sub(name + "/cov")
    app = ProcessApp(a.shim, s.sub(name + "/work"), cov, rc_file, "sync", 1,
                     GRACEFUL, GRACE)
    try:
        booted = app.wait_booted()
        st, body = request(app.sock, f"/sidejob/?seconds={JOB}")
        info = json.loads(body) if st == 200 else {}
        rc, dt = app.stop()
    finally:
        app.close()
    files = data_files(cov)
    lines, bad = measured(files)
    return dict(booted=booted, status=st, worker=info.get("pid"),
                job=info.get("job_pid"), files=files, lines=lines, bad=bad,
                done=markers(cov)[1] or {}, rc=rc, dt=dt, log=app.log_tail())


def writer_pids(files):
    """pids from coverage.py's `.coverage.<host>.<pid>.<random>` names."""
    return {int(os.path.basename(f).split(".")[-2]) for f in files}


def main():
    a = parse_args()
    c = Checker("coverage setup: gunicorn worker with a multiprocessing child")
    marks = marked_lines("demo/views/sidejob.py")
    view_line, job_line = marks["job-started"], marks["job-start"]
    with Scratch(a.keep) as s:
        r = run(a, s, "documented", "thread, multiprocessing")
        c.check(r["booted"] and r["status"] == 200,
                "documented config: app booted, /sidejob/ answered")
        c.check(r["rc"] == 0 and r["done"].get("status") == "complete",
                "documented config: shim exit 0, done.json complete",
                f"rc {r['rc']}, {r['done'].get('status')}, {r['dt']:.1f} s")
        c.check(sigkilled(r),
                "the worker still blocks in multiprocessing's atexit join "
                "until gunicorn SIGKILLs it")
        pids = writer_pids(r["files"])
        c.check(r["worker"] in pids and r["job"] in pids and r["bad"] == 0,
                "documented config: the worker and its child each wrote a "
                "readable data file", f"writers {sorted(pids)}, worker "
                f"{r['worker']}, child {r['job']}")
        got = r["lines"].get("sidejob.py", set())
        c.check(view_line in got,
                f"documented config: the view's line {view_line} "
                "(run in the worker) is measured")
        c.check(job_line in got,
                f"documented config: the job's line {job_line} "
                "(run in the child) is measured")
        if c.failed:
            print(r["log"])

        k = run(a, s, "control", None)
        c.check(k["booted"] and k["status"] == 200,
                "control (example config as is): app booted, /sidejob/ answered")
        c.check(sigkilled(k), "control: gunicorn SIGKILLed the blocked worker",
                k["log"][-600:] if not sigkilled(k) else "")
        pids = writer_pids(k["files"])
        c.check(k["worker"] is not None and k["worker"] not in pids,
                "control: the worker wrote no data file (all its data lost)",
                f"writers {sorted(pids)}, worker {k['worker']}")
        got = k["lines"].get("sidejob.py", set())
        c.check(view_line not in got and job_line not in got,
                "control: neither the view's nor the job's line is measured",
                f"measured {sorted(got)}")
        c.info(f"control done.json status: {k['done'].get('status')} "
               "(complete: the shim cannot tell the worker lost its data)")
    c.finish()


if __name__ == "__main__":
    main()
