#!/usr/bin/python3
"""Test 6: 10,000 short-lived orphans leave no zombie.

The main child makes 10,000 orphans (batches of 100 whose parent exits at
once), then stays alive.  While the shim still runs, the test scans /proc
for every process in the namespace (descendants of PID 1) and requires that
no zombie is left (polling up to 10 s after the storm ends).
Control: a PID 1 that only waits for its own child (helpers/lazy_init.py)
keeps the orphans of a 1,000-orphan storm as zombies, so the scan really
sees them.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import (PYTHON, Checker, Namespace, Scratch, app_env,  # noqa: E402
                     descendants, parse_args, wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
STORM = os.path.join(HERE, "helpers", "orphan_storm.py")
LAZY = os.path.join(HERE, "helpers", "lazy_init.py")


def zombies(init_pid):
    return [p for p, st in descendants(init_pid) if st == "Z"]


def storm(init_argv, n, out, settle=10):
    """(spawned?, zombies left after settling, seconds to settle, rc)
    rc is None when PID 1 ignored SIGTERM (the control's lazy init)."""
    ns = Namespace(init_argv + [PYTHON, STORM, str(n), out], env=app_env())
    try:
        spawned = wait_for(lambda: os.path.exists(os.path.join(out, "spawned")),
                           60, 0.1)
        t0 = time.monotonic()
        wait_for(lambda: not zombies(ns.init_pid), settle, 0.2)
        dt = time.monotonic() - t0
        left = zombies(ns.init_pid)
        ns.signal(signal.SIGTERM)
        rc = ns.wait(10 if settle > 1 else 0.5)
    finally:
        ns.kill()
    return bool(spawned), left, dt, rc


def main():
    a = parse_args()
    c = Checker("shim test 6: 10,000 short-lived orphans, no zombie left")
    with Scratch(a.keep) as s:
        t0 = time.monotonic()
        spawned, left, dt, rc = storm([a.shim, "--"], 10000, s.sub("shim"))
        c.info(f"storm under covship-shim took {time.monotonic() - t0:.1f} s")
        c.check(spawned, "covship-shim: 10,000 orphans made")
        c.check(not left, "covship-shim: no zombie left in the namespace",
                f"{len(left)} zombies after {dt:.1f} s")
        c.check(rc == 143, "covship-shim exit status 143 after SIGTERM",
                f"status {rc}")
        spawned, cleft, dt, rc = storm([PYTHON, LAZY], 1000, s.sub("lazy"),
                                      settle=1)
        c.check(spawned and len(cleft) >= 900,
                "control (PID 1 that does not reap orphans): zombies are seen",
                f"{len(cleft)} zombies of 1,000 orphans")
        c.info(f"figures: zombies left: covship-shim {len(left)} of 10,000; "
               f"non-reaping init {len(cleft)} of 1,000")
    c.finish()


if __name__ == "__main__":
    main()
