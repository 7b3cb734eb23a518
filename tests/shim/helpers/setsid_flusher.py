#!/usr/bin/python3
"""Main child for test 3: starts a daemon that leaves the session (fork,
setsid, fork) and flushes slowly on SIGTERM, then waits for SIGTERM itself.

usage: setsid_flusher.py OUTDIR FLUSH_SECONDS
The daemon writes OUTDIR/daemon.pid (its pid, its session id, the main
child's session id) once its handler is installed, and
OUTDIR/flushed (its pid) after sleeping FLUSH_SECONDS on SIGTERM.
"""
import os
import signal
import sys
import time

out, delay = sys.argv[1], float(sys.argv[2])


def write(name, text):
    tmp = os.path.join(out, name + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(tmp, os.path.join(out, name))


def daemon():
    def on_term(signum, frame):
        time.sleep(delay)          # a slow coverage flush
        write("flushed", str(os.getpid()))
        os._exit(0)
    signal.signal(signal.SIGTERM, on_term)
    write("daemon.pid", "%d %d %d" % (os.getpid(), os.getsid(0), main_sid))
    end = time.monotonic() + 120   # never outlive a broken test for long
    while time.monotonic() < end:
        time.sleep(1)
    os._exit(3)


main_sid = os.getsid(0)
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        daemon()
    os._exit(0)
os.waitpid(pid, 0)
signal.pause()                     # default SIGTERM: the main child just dies
