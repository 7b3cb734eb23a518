#!/usr/bin/python3
"""Main child for test 5: forks a descendant, then waits for SIGTERM.

usage: stubborn.py OUTDIR ignore|obey
The descendant ignores SIGTERM (`ignore`) or exits on it at once (`obey`),
and writes its pid to OUTDIR/descendant.pid once its disposition is set.
"""
import os
import signal
import sys
import time

out, mode = sys.argv[1], sys.argv[2]
if os.fork() == 0:
    if mode == "ignore":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    tmp = os.path.join(out, "descendant.pid.tmp")
    with open(tmp, "w") as fh:
        fh.write(str(os.getpid()))
    os.rename(tmp, os.path.join(out, "descendant.pid"))
    end = time.monotonic() + 120   # never outlive a broken test for long
    while time.monotonic() < end:
        time.sleep(1)
    os._exit(3)
signal.pause()                     # default SIGTERM: the main child just dies
