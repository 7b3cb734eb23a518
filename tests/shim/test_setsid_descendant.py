#!/usr/bin/python3
"""Test 3: a descendant that left the session with setsid() (daemonised by
double fork, so it is an orphan re-parented to PID 1) and needs 2 s to flush
on SIGTERM.

tini (the control) forwards SIGTERM to its main child only; the main child
dies, tini exits, and the kernel SIGKILLs the daemon mid-flush.  covship-shim
signals the orphan (its own child) and waits for it.

Asserts: under covship-shim the daemon's `flushed` file exists, done.json
says complete and lists the daemon with exit code 0 and killed_at_grace
false; under tini `flushed` does not exist.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import (PYTHON, TINI, Checker, Namespace, Scratch,  # noqa: E402
                     app_env, markers, parse_args, wait_for)

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "helpers", "setsid_flusher.py")


def run(init_argv, out):
    ns = Namespace(init_argv + [PYTHON, HELPER, out, "2"], env=app_env())
    try:
        started = wait_for(lambda: os.path.exists(os.path.join(out, "daemon.pid")), 10)
        ns.signal(signal.SIGTERM)
        rc = ns.wait(20)
    finally:
        ns.kill()
    daemon = None
    if started:
        with open(os.path.join(out, "daemon.pid")) as fh:
            daemon = tuple(int(x) for x in fh.read().split())
    return bool(started), rc, daemon, os.path.exists(os.path.join(out, "flushed"))


def main():
    a = parse_args()
    c = Checker("shim test 3: setsid() descendant with a slow flush")
    with Scratch(a.keep) as s:
        cov = s.sub("cov")
        started, rc, daemon, flushed = run([a.shim, "--coverage-dir", cov, "--"],
                                           s.sub("out-shim"))
        c.check(started, "covship-shim: daemon started in its own session",
                str(daemon))
        c.check(daemon is not None and daemon[1] != daemon[2],
                "daemon runs in a session of its own (setsid worked)",
                "pid, sid, main child's sid = %s" % (daemon,))
        shim_flushed = flushed
        c.check(flushed, "covship-shim: the daemon's slow flush completed")
        c.check(rc == 128 + signal.SIGTERM,
                "covship-shim exit status 143 (main child died of SIGTERM)",
                f"status {rc}")
        _, done = markers(cov)
        done = done or {}
        c.check(done.get("status") == "complete", "done.json status complete",
                str(done.get("status")))
        dpid = daemon[0] if daemon else -1
        entry = [d for d in done.get("descendants", []) if d.get("pid") == dpid]
        c.check(len(entry) == 1 and entry[0].get("exit_code") == 0 and
                entry[0].get("killed_at_grace") is False,
                "done.json lists the daemon: exit_code 0, killed_at_grace false",
                str(done.get("descendants")))

        started, rc, daemon, flushed = run([TINI, "--"], s.sub("out-tini"))
        c.check(started, "control tini: daemon started")
        c.check(not flushed, "control tini loses the daemon's flush")
        c.info("figures: setsid daemon's 2 s flush: covship-shim "
               f"{'kept' if shim_flushed else 'lost'}; tini "
               f"{'kept' if flushed else 'lost'}")
    c.finish()


if __name__ == "__main__":
    main()
