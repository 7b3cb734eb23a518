#!/usr/bin/python3
"""Test 8: subreaper mode when the shim is not PID 1 (e.g. `docker run
--init`, or under another init).

The shim runs directly (no PID namespace).  Its main child orphans a
grandchild and exits 7.  The orphan must be re-parented to the shim
(PR_SET_CHILD_SUBREAPER), get SIGTERM (the main child exited), and be waited
for: its 1 s flush is done before the shim exits with status 7.
Control: tini without -s is no subreaper; the orphan goes elsewhere and
tini exits without waiting for it.  The test kills that orphan by its pid.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import (PYTHON, TINI, Checker, Scratch, app_env,  # noqa: E402
                     markers, parse_args, wait_for)

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "helpers", "orphaner.py")


def run(init_argv, out):
    t0 = time.monotonic()
    p = subprocess.Popen(init_argv + [PYTHON, HELPER, out, "1"], env=app_env(),
                         stderr=subprocess.DEVNULL)
    try:
        rc = p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    dt = time.monotonic() - t0
    flushed = os.path.exists(os.path.join(out, "flushed"))
    gc = None
    if wait_for(lambda: os.path.exists(os.path.join(out, "grandchild")), 1):
        with open(os.path.join(out, "grandchild")) as fh:
            gc = tuple(int(x) for x in fh.read().split())
    return p.pid, rc, dt, flushed, gc


def kill_leftover(gc):
    """Clean-up: SIGKILL the orphan by pid, if it is still our helper."""
    if not gc:
        return
    try:
        with open(f"/proc/{gc[0]}/cmdline", "rb") as fh:
            if HELPER.encode() in fh.read():
                os.kill(gc[0], signal.SIGKILL)
    except OSError:
        pass


def main():
    a = parse_args()
    c = Checker("shim test 8: subreaper mode when not PID 1")
    with Scratch(a.keep) as s:
        cov = s.sub("cov")
        pid, rc, dt, flushed, gc = run([a.shim, "--coverage-dir", cov, "--"],
                                       s.sub("shim"))
        kill_leftover(gc)
        c.check(gc is not None and gc[1] == pid,
                "orphaned grandchild re-parented to the shim",
                f"shim pid {pid}, grandchild (pid, ppid) {gc}")
        c.check(flushed, "grandchild's 1 s flush done before the shim exited",
                f"shim exited after {dt:.2f} s")
        c.check(rc == 7, "shim exit status 7 (the main child's)", f"status {rc}")
        _, done = markers(cov)
        done = done or {}
        entry = [d for d in done.get("descendants", [])
                 if gc and d.get("pid") == gc[0]]
        c.check(done.get("status") == "complete" and len(entry) == 1
                and entry[0].get("exit_code") == 0,
                "done.json complete, lists the grandchild with exit code 0",
                str(done.get("descendants")))

        tpid, rc, dt, tflushed, tgc = run([TINI, "--"], s.sub("tini"))
        kill_leftover(tgc)
        c.check(tgc is not None and tgc[1] != tpid,
                "control tini: orphan not re-parented to tini",
                f"tini pid {tpid}, grandchild (pid, ppid) {tgc}")
        c.check(not tflushed, "control tini: exited without waiting for the orphan",
                f"status {rc} after {dt:.2f} s")
    c.finish()


if __name__ == "__main__":
    main()
