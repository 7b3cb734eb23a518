#!/usr/bin/python3
"""covship-shim whose stderr reader went away (e.g. a log pipe closed).

Every log line then raises SIGPIPE in the shim. That signal is the shim's
own doing: it must neither be forwarded to the child (SIGPIPE kills most
programs) nor loop (logging it raises it again). Seen before the fix: the
shim spun at full CPU, forwarding SIGPIPE forever and never reaping.

usage: closed_stderr.py SHIM
"""
import os
import subprocess
import sys
import tempfile
import time

shim = sys.argv[1]
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "out")
    script = ("trap 'echo PIPE >> {0}' PIPE; trap 'echo USR1 >> {0}' USR1; "
              "sleep 1; echo done >> {0}").format(out)
    p = subprocess.Popen([shim, "-v", "--", "sh", "-c", script],
                         stderr=subprocess.PIPE)
    time.sleep(0.3)                 # the child has installed its traps
    p.stderr.close()                # nobody reads the shim's log any more
    os.kill(p.pid, 10)              # SIGUSR1: forwarded and logged (debug)
    try:
        rc = p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        print("FAIL: the shim did not exit (SIGPIPE loop?)")
        sys.exit(1)
    with open(out) as fh:
        got = fh.read().split()
    fails = 0
    for ok, what in ((rc == 0, "exit status 0 (got %d)" % rc),
                     ("USR1" in got, "child got the forwarded SIGUSR1"),
                     ("PIPE" not in got, "child did not get the shim's SIGPIPE"),
                     ("done" in got, "child ran to its end")):
        print(("PASS: " if ok else "FAIL: ") + what + " " + str(got))
        fails += not ok
    sys.exit(1 if fails else 0)
