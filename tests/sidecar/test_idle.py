#!/usr/bin/python3
"""`covship watch` idles as covship-idle (same PID, no delivery libraries)
and comes back as soon as there is possibly work.

1. On an empty volume the watcher becomes covship-idle: /proc/PID/exe is
   covship-idle and its maps hold no libcurl. Control: --no-idle-exec, the
   same check sees covship with libcurl (so the check can tell).
2. While idle: a directory created after start, a coverage file written in
   it wakes the watcher (same PID); then done.json -> the bundle holds the
   file, and the watcher idles again. A directory holding a file, moved in
   while idle, is scanned: the file is delivered.
3. SIGTERM while idle, no run.json: the watcher drains until
   --drain-timeout and exits like a watcher that never idled (control:
   --no-idle-exec, same exit status, same drain messages).
4. While idle and while it goes back and forth between covship watch and
   covship-idle: `covship health` exits 0, the spool's lock is never free
   (probed as health does) and a second watcher on the spool is refused.
   Control: the watcher SIGKILLed -> health 1 and the probe gets the lock.
"""
import fcntl
import os
import signal
import subprocess
import threading
import time

from sidecarlib import (Checker, Scratch, Watch, bundles, delivered_files, fake_done,
                        fake_run, parse_args, run, wait_for)

RUN = "1d1e1d1e1d1e1d1e1d1e1d1e1d1e1d1e"


def extra(p):
    p.add_argument("--idle", required=True, help="the covship-idle executable")


a = parse_args(extra)
IDLE = os.path.realpath(a.idle)
COVSHIP = os.path.realpath(a.covship)
c = Checker("sidecar idle")


def exe(pid):
    try:
        return os.path.realpath(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None


def maps_have(pid, lib):
    try:
        with open(f"/proc/{pid}/maps") as fh:
            return lib in fh.read()
    except OSError:
        return None


def start(s, name, cov, dest, spool, *more):
    w = Watch(a.covship, ["--dir", cov, "--dest", "file://" + dest, "--spool", spool,
                          "--log-level", "debug"] + list(more),
              os.path.join(s.path, name + ".log"))
    s.cleanups.append(w.kill)
    c.check(w.wait_started(spool), f"{name}: watcher started")
    return w


def lock_free(spool):
    """health's probe: a shared lock on the spool's lock file is refused
    while a watcher holds it."""
    fd = os.open(os.path.join(spool, "lock"), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def health(spool):
    return run(a.covship, ["health", "--spool", spool], timeout=10).returncode


with Scratch(a.keep) as s:
    # 1. idle on an empty volume; control with --no-idle-exec
    cov, dest, spool = s.sub("cov1"), s.sub("dest1"), os.path.join(s.path, "spool1")
    fake_run(cov, RUN)
    w = start(s, "idle", cov, dest, spool)
    pid = w.proc.pid
    c.check(wait_for(lambda: exe(pid) == IDLE, 10), "empty volume: /proc/PID/exe is covship-idle",
            exe(pid))
    c.check(maps_have(pid, "libcurl") is False and maps_have(pid, "libarchive") is False,
            "idle: no libcurl, no libarchive mapped")
    w.kill()
    cov, dest, spool = s.sub("cov1c"), s.sub("dest1c"), os.path.join(s.path, "spool1c")
    fake_run(cov, RUN)
    w = start(s, "noidle", cov, dest, spool, "--no-idle-exec")
    time.sleep(1.0)  # as long as the idle watcher needed, and more
    c.check(exe(w.proc.pid) == COVSHIP and maps_have(w.proc.pid, "libcurl") is True,
            "control: --no-idle-exec stays covship, libcurl mapped (the check can tell)",
            exe(w.proc.pid))
    w.kill()

    # 2. work arriving while idle
    cov, dest, spool = s.sub("cov2"), s.sub("dest2"), os.path.join(s.path, "spool2")
    data = fake_run(cov, RUN)
    w = start(s, "work", cov, dest, spool)
    pid = w.proc.pid
    c.check(wait_for(lambda: exe(pid) == IDLE, 10), "idle before the work arrives")
    sub = os.path.join(data, "late", "deeper")
    os.makedirs(sub)
    time.sleep(0.3)  # the new directories are watched before the file comes
    with open(os.path.join(sub, ".coverage.h.1.11"), "wb") as fh:
        fh.write(b"late directory")
    c.check(wait_for(lambda: exe(pid) == COVSHIP, 10),
            "a coverage file in a directory created after start wakes covship watch")
    fake_done(cov, RUN)
    wait_for(lambda: bundles(dest), 15, 0.05)
    seen, mans, probs = delivered_files(dest)
    want = {f"run-{RUN}/late/deeper/.coverage.h.1.11".encode(): [b"late directory"]}
    c.check(seen == want and not probs and len(mans) == 1 and mans[0].get("marker"),
            "then done.json: the bundle holds the file and the marker",
            f"{sorted(seen)} {probs}")
    c.check(w.proc.poll() is None and wait_for(lambda: exe(pid) == IDLE, 10),
            "same PID, idle again after the delivery", exe(pid))
    # a directory that already holds a file, moved in while idle (this run's
    # done.json is there, so the file is final at once)
    outside = os.path.join(s.path, "prepared")
    os.makedirs(outside)
    with open(os.path.join(outside, ".coverage.h.2.22"), "wb") as fh:
        fh.write(b"moved in")
    os.rename(outside, os.path.join(data, "moved"))
    wait_for(lambda: len(bundles(dest)) == 2, 15, 0.05)
    seen, mans, probs = delivered_files(dest)
    want[f"run-{RUN}/moved/.coverage.h.2.22".encode()] = [b"moved in"]
    c.check(seen == want and not probs,
            "a directory moved in with a file inside: scanned, the file delivered",
            f"{sorted(seen)} {probs}")
    c.check(w.proc.poll() is None and wait_for(lambda: exe(pid) == IDLE, 10),
            "same PID, idle again", exe(pid))
    w.kill()

    # 3. SIGTERM while idle, no run.json: same drain and exit as without idling
    results = {}
    for name, more in (("term-idle", []), ("term-noidle", ["--no-idle-exec"])):
        cov, dest = s.sub("cov-" + name), s.sub("dest-" + name)
        spool = os.path.join(s.path, "spool-" + name)
        w = start(s, name, cov, dest, spool, "--drain-timeout", "2", *more)
        if not more:
            c.check(wait_for(lambda: exe(w.proc.pid) == IDLE, 10), "idle before SIGTERM")
        else:
            time.sleep(1.0)
            c.check(exe(w.proc.pid) == COVSHIP, "control: not idle before SIGTERM")
        t0 = time.monotonic()
        w.signal(signal.SIGTERM)
        rc = w.wait(30)
        results[name] = (rc, time.monotonic() - t0, w.log())
        w.kill()
    rc_i, dt_i, log_i = results["term-idle"]
    rc_n, dt_n, log_n = results["term-noidle"]
    c.check(rc_i == 0 and rc_i == rc_n, "SIGTERM while idle: exit status as without idling",
            f"idle {rc_i}, control {rc_n}")
    c.check(dt_i >= 1.9 and "signal 15: draining" in log_i and "drain timeout (2s)" in log_i,
            "the idle watcher drained until --drain-timeout (the signal was not lost)",
            f"{dt_i:.2f} s")
    c.check("signal 15: draining" in log_n and "drain timeout (2s)" in log_n,
            "control: the watcher that never idled drains the same way")

    # 4. health and the lock, idle and in transition
    cov, dest, spool = s.sub("cov4"), s.sub("dest4"), os.path.join(s.path, "spool4")
    data = fake_run(cov, RUN)
    w = start(s, "health", cov, dest, spool)
    pid = w.proc.pid
    c.check(wait_for(lambda: exe(pid) == IDLE, 10), "idle before the health checks")
    c.check(health(spool) == 0, "covship health while idle: 0")
    try:
        r = run(a.covship, ["watch", "--dir", cov, "--dest", "file://" + dest, "--spool", spool],
                timeout=5)
        rc, err = r.returncode, r.stderr.decode(errors="replace").strip()
    except subprocess.TimeoutExpired:  # it took the spool and kept running
        rc, err = None, "the second watcher ran"
    c.check(rc == 2 and "in use by another covship" in err,
            "a second watcher on the spool is refused while the first is idle", err)
    c.check("(pid %d);" % pid in err and "\n" not in err,
            "the refusal names the first watcher's pid on one line", err)
    fake_done(cov, RUN)  # from now on every coverage file is final at once
    wait_for(lambda: len(bundles(dest)) == 1 and exe(pid) == IDLE, 10, 0.01)
    free = []
    stop = threading.Event()

    def probe():
        while not stop.is_set():
            if lock_free(spool):
                free.append(time.monotonic())

    th = threading.Thread(target=probe)
    th.start()
    trips = 0
    for i in range(10):
        with open(os.path.join(data, f".coverage.h.9.{i}"), "w") as fh:
            fh.write("x")
        if wait_for(lambda: len(bundles(dest)) == i + 2 and exe(pid) == IDLE, 10, 0.005):
            trips += 1
    stop.set()
    th.join()
    c.check(trips == 10 and not free and w.log().count("idle: nothing to do") >= 11,
            "10 round trips idle -> watch (delivery) -> idle: the spool's lock never free",
            f"{trips} trips, lock free {len(free)} times")
    c.check(health(spool) == 0 and w.proc.poll() is None, "covship health after them: 0")
    w.kill()
    c.check(health(spool) == 1 and lock_free(spool),
            "control: watcher killed -> health 1, the probe gets the lock")
c.finish()
