#!/usr/bin/python3
"""Test 2: gunicorn behind `sh -c 'gunicorn ...; true'` (the shell does not
exec it) with a 3 s flush at worker exit (TESTAPP_FLUSH_DELAY=3).

On SIGTERM the shell dies without passing the signal on.  tini (Debian's,
the control) then sees its main child gone, exits, and the kernel SIGKILLs
gunicorn and its workers before they flush: the files are lost.
covship-shim adopts the orphaned gunicorn master, signals it once, and
waits for every worker's 3 s flush.

Asserts: covship-shim keeps 4 readable files and done.json says complete;
tini keeps fewer than 4 (measured: 0).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import (App, TINI, Checker, Scratch, coverage_files,  # noqa: E402
                     load, markers, parse_args, read_data_files)


def run_once(init_argv, workdir, **env):
    app = App(init_argv, workdir, shell=True, TESTAPP_FLUSH_DELAY=3, **env)
    try:
        booted = app.wait_booted()
        if booted:
            load(app.sock, 20)
        rc, dt = app.stop()
    finally:
        app.close()
    return booted, rc, dt, app


def main():
    a = parse_args()
    c = Checker("shim test 2: gunicorn behind a non-exec shell, 3 s flush")
    with Scratch(a.keep) as s:
        cov = s.sub("cov-shim")
        booted, rc, dt, app = run_once([a.shim, "--coverage-dir", cov, "--"],
                                       s.sub("work-shim"))
        c.check(booted, "covship-shim: 4 workers booted")
        files = coverage_files(cov)
        res = read_data_files(files)
        good = sum(1 for v in res.values() if v[0])
        c.check(good == 4, "covship-shim: 4/4 worker files kept and readable",
                f"{good} readable of {len(files)}; stopped in {dt:.2f} s")
        c.check(dt >= 3.0, "covship-shim waited for the 3 s flush",
                f"{dt:.2f} s")
        _, done = markers(cov)
        c.check(done is not None and done.get("status") == "complete",
                "covship-shim: done.json status complete",
                str(done and done.get("status")))
        if c.failed:
            print(app.log_tail())

        tcov = s.sub("cov-tini")
        booted, rc, dt, app = run_once([TINI, "--"], s.sub("work-tini"),
                                       COVERAGE_DIR=tcov)
        c.check(booted, "control tini: 4 workers booted")
        tfiles = coverage_files(tcov)
        c.check(len(tfiles) < 4, "control tini loses worker files",
                f"tini kept {len(tfiles)}/4 files, exited {dt:.2f} s after SIGTERM")
        c.info(f"figures: covship-shim {good}/4 files kept; tini {len(tfiles)}/4")
    c.finish()


if __name__ == "__main__":
    main()
