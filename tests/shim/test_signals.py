#!/usr/bin/python3
"""Test 9: signal forwarding and the child's inherited signal state.

Forwarding: with the shim as PID 1, USR1, HUP, WINCH (then TERM) sent to
PID 1 must reach the main child, each recorded by helpers/sigrecorder.py
before the next is sent.  Control: a PID 1 with no handlers (`sh -c '...;
true'`) -- the kernel drops the signals, so the recorder sees none.

Signal state: the shim is started with SIGINT blocked and SIGUSR2 ignored;
its command (grep of /proc/self/status) must start with exactly that
SigBlk/SigIgn, and with none of them when the shim inherited none.  Checked
as PID 1 and not.  Control: dumb-init resets both, so the comparison fails
there.
"""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import (PYTHON, DUMB_INIT, Checker, Namespace, Scratch,  # noqa: E402
                     app_env, parse_args, wait_for)

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "helpers", "sigrecorder.py")
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--"]
FORWARDED = [signal.SIGUSR1, signal.SIGHUP, signal.SIGWINCH]


def recorded(path):
    try:
        with open(path) as fh:
            return fh.read().split()
    except OSError:
        return []


def forward(init_argv, out, per_signal_wait):
    ns = Namespace(init_argv + [PYTHON, HELPER, out], env=app_env())
    try:
        ready = wait_for(lambda: os.path.exists(out + ".ready"), 10)
        for i, sig in enumerate(FORWARDED):
            ns.signal(sig)
            wait_for(lambda: len(recorded(out)) > i, per_signal_wait)
        ns.signal(signal.SIGTERM)
        rc = ns.wait(per_signal_wait)
    finally:
        ns.kill()
    return bool(ready), recorded(out), rc


def special_state():
    """preexec_fn: the state the init is started with."""
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def child_state(argv, preexec):
    r = subprocess.run(argv + ["grep", "-E", "^Sig(Blk|Ign):",
                               "/proc/self/status"],
                       env=app_env(), capture_output=True, text=True,
                       timeout=20, preexec_fn=preexec)
    st = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition(":")
        st[k] = int(v.strip(), 16)
    return st.get("SigBlk"), st.get("SigIgn")


def main():
    a = parse_args()
    c = Checker("shim test 9: signal forwarding, inherited mask/dispositions")
    with Scratch(a.keep) as s:
        ready, got, rc = forward([a.shim, "--quiet", "--"],
                                 os.path.join(s.path, "shim.sigs"), 5)
        c.check(ready and got == ["USR1", "HUP", "WINCH", "TERM"],
                "USR1, HUP, WINCH, TERM forwarded to the main child in order",
                f"recorded {got}")
        c.check(rc == 0, "exit status 0 (child exited 0 after TERM)", f"status {rc}")
        ready, got, rc = forward(["/bin/sh", "-c", f"{PYTHON} {HELPER} "
                                  f"{os.path.join(s.path, 'sh.sigs')}; true"],
                                 os.path.join(s.path, "sh.sigs"), 0.5)
        c.check(ready and got == [],
                "control (sh as PID 1, no forwarding): the recorder sees nothing",
                f"recorded {got}")

        want = (1 << (signal.SIGINT - 1), 1 << (signal.SIGUSR2 - 1))
        for label, prefix in (("as PID 1", UNSHARE), ("not PID 1", [])):
            st = child_state(prefix + [a.shim, "--quiet", "--"], special_state)
            c.check(st == want,
                    f"{label}: child starts with SIGINT blocked, SIGUSR2 ignored",
                    "SigBlk/SigIgn %s, want %s" % (
                        tuple(hex(x) if x is not None else None for x in st),
                        tuple(hex(x) for x in want)))
            st = child_state(prefix + [a.shim, "--quiet", "--"], None)
            c.check(st == (0, 0), f"{label}: child starts with nothing blocked or ignored",
                    f"SigBlk/SigIgn {st}")
        st = child_state(UNSHARE + [DUMB_INIT, "--"], special_state)
        c.check(st != want, "control dumb-init: inherited state not restored",
                f"SigBlk/SigIgn {st}")
    c.finish()


if __name__ == "__main__":
    main()
