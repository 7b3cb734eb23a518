#!/usr/bin/python3
"""Main child for test 8: orphans a grandchild, then exits 7.

usage: orphaner.py OUTDIR FLUSH_SECONDS
The grandchild waits until its parent has exited and it was re-parented,
writes OUTDIR/grandchild ("<pid> <new ppid>"), and on SIGTERM sleeps
FLUSH_SECONDS, writes OUTDIR/flushed and exits 0.
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
    os.rename(tmp, os.path.join(out, name))


def grandchild(first_parent):
    def on_term(signum, frame):
        time.sleep(delay)
        write("flushed", str(os.getpid()))
        os._exit(0)
    signal.signal(signal.SIGTERM, on_term)
    end = time.monotonic() + 5
    while os.getppid() == first_parent and time.monotonic() < end:
        time.sleep(0.01)
    write("grandchild", "%d %d" % (os.getpid(), os.getppid()))
    end = time.monotonic() + 60    # never outlive a broken test for long
    while time.monotonic() < end:
        time.sleep(1)
    os._exit(3)


child = os.fork()
if child == 0:
    me = os.getpid()
    if os.fork() == 0:
        grandchild(me)
    os._exit(0)
os.waitpid(child, 0)
end = time.monotonic() + 10
while not os.path.exists(os.path.join(out, "grandchild")) and time.monotonic() < end:
    time.sleep(0.01)
sys.exit(7)
