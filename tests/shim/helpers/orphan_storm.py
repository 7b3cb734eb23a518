#!/usr/bin/python3
"""Main child for test 6: makes N short-lived orphans, then waits.

usage: orphan_storm.py N OUTDIR
In batches of 100, an intermediate process forks 100 children that exit at
once and then exits itself without waiting for them: the children (already
zombies, or about to be) are re-parented to PID 1 in bulk, which must reap
them.  Writes OUTDIR/spawned (the count) when done, then sleeps until
SIGTERM.
"""
import os
import signal
import sys

n, out = int(sys.argv[1]), sys.argv[2]
made = 0
while made < n:
    batch = min(100, n - made)
    pid = os.fork()
    if pid == 0:
        for _ in range(batch):
            if os.fork() == 0:
                os._exit(0)
        os._exit(0)
    os.waitpid(pid, 0)
    made += batch
with open(os.path.join(out, "spawned.tmp"), "w") as fh:
    fh.write(str(made))
os.rename(os.path.join(out, "spawned.tmp"), os.path.join(out, "spawned"))
signal.pause()
