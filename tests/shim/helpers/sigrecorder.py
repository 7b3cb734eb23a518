#!/usr/bin/python3
"""Main child for test 9: records the signals it receives.

usage: sigrecorder.py OUTFILE
Appends one name per line to OUTFILE for USR1, HUP, WINCH, USR2, QUIT and
TERM (exits 0 after TERM); creates OUTFILE.ready once the handlers are set.
"""
import signal
import sys
import time

out = sys.argv[1]


def on_signal(signum, frame):
    with open(out, "a") as fh:
        fh.write(signal.Signals(signum).name[3:] + "\n")
    if signum == signal.SIGTERM:
        sys.exit(0)


for s in (signal.SIGUSR1, signal.SIGHUP, signal.SIGWINCH, signal.SIGUSR2,
          signal.SIGQUIT, signal.SIGTERM):
    signal.signal(s, on_signal)
open(out + ".ready", "w").close()
end = time.monotonic() + 60        # never outlive a broken test for long
while time.monotonic() < end:
    time.sleep(1)
sys.exit(3)
