#!/usr/bin/python3
"""Test 5: a descendant that ignores SIGTERM is SIGKILLed when the grace
(--grace 2) expires, and no later.

Asserts: PID 1 exits between 2.0 and 3.5 s after SIGTERM (grace + 1.5 s),
done.json says grace-expired, names the descendant's pid with signal 9 and
killed_at_grace true, and the shim's status is the main child's (143).
Control: the same tree whose descendant obeys SIGTERM ends well before the
grace with status complete and killed_at_grace false, so the assertions
above really depend on the stubborn descendant.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import (PYTHON, Checker, Namespace, Scratch, app_env,  # noqa: E402
                     markers, parse_args, wait_for)

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "helpers", "stubborn.py")
GRACE = 2.0


def run(shim, cov, out, mode):
    ns = Namespace([shim, "--grace", "2", "--coverage-dir", cov, "--",
                    PYTHON, HELPER, out, mode], env=app_env())
    pidfile = os.path.join(out, "descendant.pid")
    try:
        started = wait_for(lambda: os.path.exists(pidfile), 10)
        time.sleep(0.1)            # let the main child reach pause()
        t0 = time.monotonic()
        ns.signal(signal.SIGTERM)
        rc = ns.wait(GRACE + 10)
        dt = time.monotonic() - t0
    finally:
        ns.kill()
    pid = int(open(pidfile).read()) if started else None
    return rc, dt, pid, markers(cov)[1] or {}


def main():
    a = parse_args()
    c = Checker("shim test 5: SIGTERM-ignoring descendant killed at the grace")
    with Scratch(a.keep) as s:
        rc, dt, pid, done = run(a.shim, s.sub("cov"), s.sub("out"), "ignore")
        c.check(pid is not None, "descendant ignoring SIGTERM started", f"pid {pid}")
        c.check(GRACE <= dt < GRACE + 1.5,
                "shutdown took the grace and no more (2.0 <= t < 3.5 s)",
                f"{dt:.3f} s")
        c.check(rc == 143, "exit status 143 (main child died of SIGTERM)",
                f"status {rc}")
        c.check(done.get("status") == "grace-expired",
                "done.json status grace-expired", str(done.get("status")))
        c.check(done.get("grace_seconds") == 2, "done.json grace_seconds 2",
                str(done.get("grace_seconds")))
        entry = [d for d in done.get("descendants", []) if d.get("pid") == pid]
        c.check(len(entry) == 1 and entry[0].get("killed_at_grace") is True
                and entry[0].get("signal") == 9,
                "done.json names the descendant: signal 9, killed_at_grace true",
                str(done.get("descendants")))

        rc, dt, pid, done = run(a.shim, s.sub("cov-obey"), s.sub("out-obey"), "obey")
        c.check(dt < 1.0 and done.get("status") == "complete",
                "control (descendant obeys SIGTERM): complete, well before the grace",
                f"{dt:.3f} s, status {done.get('status')}")
        entry = [d for d in done.get("descendants", []) if d.get("pid") == pid]
        c.check(len(entry) == 1 and entry[0].get("killed_at_grace") is False,
                "control: descendant listed with killed_at_grace false",
                str(done.get("descendants")))
    c.finish()


if __name__ == "__main__":
    main()
