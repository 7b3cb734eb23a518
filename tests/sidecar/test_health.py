#!/usr/bin/python3
"""`covship health`: 0 while the watcher is alive and its deliveries do not
fail permanently, 1 otherwise.

Scenario: healthy watcher -> 0; a destination that fails permanently (a
file where the key's directory must go: ENOTDIR) -> 1 naming the error;
the obstacle removed, the retry delivers -> 0 again; watcher SIGKILLed -> 1
(control: the same spool, so only liveness changed)."""
import os
import signal
import time

from sidecarlib import (Checker, Scratch, Watch, bundles, fake_done, fake_run, parse_args,
                        run, wait_for)

RUN = "4ea14ea14ea14ea14ea14ea14ea14ea1"

a = parse_args()
c = Checker("sidecar health")
with Scratch(a.keep) as s:
    cov, dest, spool = s.sub("cov"), s.sub("dest"), os.path.join(s.path, "spool")

    def health():
        r = run(a.covship, ["health", "--spool", spool], timeout=10)
        return r.returncode, r.stdout.decode(errors="replace").strip()

    rc, out = health()
    c.check(rc == 1, "no watcher yet: unhealthy", out)
    data = fake_run(cov, RUN)
    with open(os.path.join(dest, RUN), "w") as fh:  # blocks dest/<run_id>/...
        fh.write("in the way")
    w = Watch(a.covship, ["--dir", cov, "--dest", "file://" + dest, "--spool", spool,
                          "--retry-max", "1", "--drain-timeout", "5"],
              os.path.join(s.path, "watch.log"))
    s.cleanups.append(w.kill)
    w.wait_started(spool)
    rc, out = health()
    c.check(rc == 0, "watcher running, nothing failed: healthy", out)
    with open(os.path.join(data, ".coverage.h.1.1"), "w") as fh:
        fh.write("data")
    fake_done(cov, RUN)
    wait_for(lambda: health()[0] == 1, 10, 0.1)
    rc, out = health()
    c.check(rc == 1 and "permanently" in out and "Not a directory" in out,
            "permanent delivery failure: unhealthy, with the reason", out)
    os.unlink(os.path.join(dest, RUN))
    wait_for(lambda: bundles(dest), 10, 0.1)
    wait_for(lambda: health()[0] == 0, 5, 0.1)
    rc, out = health()
    c.check(rc == 0 and bundles(dest), "obstacle gone, retry delivered: healthy again", out)
    w.kill()
    rc, out = health()
    c.check(rc == 1, "control: watcher killed (same spool): unhealthy", out)
c.finish()
