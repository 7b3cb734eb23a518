#!/usr/bin/python3
"""Test 7: exit status.

- codes 0..255 of `sh -c 'exit N'` pass through: all 256 with the shim run
  directly (subreaper mode, cheap), and a sample as PID 1 under unshare;
- a main child killed by signal N gives 128+N (TERM, KILL, SEGV, ABRT, INT,
  HUP, USR1), both ways (core dumps disabled with RLIMIT_CORE 0);
- 126 for a command that is not executable (a mode 0644 file, a directory),
  127 for one that does not exist;
- 2 for bad usage (no command, unknown option, bad --grace, bad
  COVSHIP_GRACE, a coverage dir that cannot be created), with one line on
  stderr and the command never started.
Control: `sh -c 'exit N'` run bare gives the same numbers the test expects
(so the expectations are the shell's, not the shim's).
"""
import os
import resource
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import Checker, Scratch, app_env, parse_args  # noqa: E402

UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--"]
SIGNALS = [signal.SIGTERM, signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT,
           signal.SIGINT, signal.SIGHUP, signal.SIGUSR1]


def no_core():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(argv, env=None):
    r = subprocess.run(argv, env=env or app_env(), capture_output=True,
                       text=True, timeout=30, preexec_fn=no_core)
    return r.returncode, r.stderr


def main():
    a = parse_args()
    c = Checker("shim test 7: exit codes pass through")
    shim = a.shim
    with Scratch(a.keep) as s:
        wrong = [n for n in range(256)
                 if run([shim, "--quiet", "--", "sh", "-c", f"exit {n}"])[0] != n]
        c.check(not wrong, "codes 0..255 pass through (not PID 1)",
                f"wrong: {wrong[:10]}")
        sample = [0, 1, 2, 42, 126, 127, 128, 200, 255]
        wrong = [n for n in sample
                 if run(UNSHARE + [shim, "--quiet", "--", "sh", "-c", f"exit {n}"])[0] != n]
        c.check(not wrong, f"codes {sample} pass through as PID 1",
                f"wrong: {wrong}")
        for sig in SIGNALS:
            cmd = ["sh", "-c", f"kill -{sig.name[3:]} $$"]
            ctl = run(cmd)[0]
            rc1 = run([shim, "--quiet", "--"] + cmd)[0]
            rc2 = run(UNSHARE + [shim, "--quiet", "--"] + cmd)[0]
            c.check(ctl == -sig and rc1 == 128 + sig and rc2 == 128 + sig,
                    f"main child killed by {sig.name}: status {128 + sig}",
                    f"bare {ctl}, shim {rc1}, shim as PID 1 {rc2}")
        noexec = os.path.join(s.path, "noexec.sh")
        with open(noexec, "w") as fh:
            fh.write("#!/bin/sh\nexit 0\n")
        os.chmod(noexec, 0o644)
        for what, argv, want in [
                ("not executable file", [noexec], 126),
                ("directory", [s.path], 126),
                ("missing command", [os.path.join(s.path, "nope")], 127),
                ("missing command on PATH", ["covship-no-such-command"], 127)]:
            rc1, err = run([shim, "--"] + argv)
            rc2 = run(UNSHARE + [shim, "--"] + argv)[0]
            c.check(rc1 == want and rc2 == want,
                    f"{what}: status {want}",
                    f"got {rc1} / {rc2} as PID 1; stderr: {err.strip()[:150]}")
        marker = os.path.join(s.path, "started")
        touch = ["touch", marker]
        blocker = os.path.join(s.path, "a-file")
        open(blocker, "w").close()
        cases = [
            ("no command", [shim], None),
            ("only --", [shim, "--"], None),
            ("unknown option", [shim, "--bogus", "--"] + touch, None),
            ("--grace abc", [shim, "--grace", "abc", "--"] + touch, None),
            ("--grace -1", [shim, "--grace", "-1", "--"] + touch, None),
            ("--grace missing value", [shim, "--grace"], None),
            ("COVSHIP_GRACE=abc", [shim, "--"] + touch, {"COVSHIP_GRACE": "abc"}),
            ("coverage dir under a file", [shim, "--coverage-dir",
                                           os.path.join(blocker, "x"), "--"] + touch, None),
        ]
        for what, argv, extra in cases:
            rc, err = run(argv, app_env(**(extra or {})))
            lines = [ln for ln in err.splitlines() if ln.strip()]
            c.check(rc == 2 and len(lines) == 1 and not os.path.exists(marker),
                    f"bad usage ({what}): status 2, one line, nothing started",
                    f"status {rc}, stderr {lines[:3]}")
    c.finish()


if __name__ == "__main__":
    main()
