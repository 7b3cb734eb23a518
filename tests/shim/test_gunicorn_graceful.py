#!/usr/bin/python3
"""Test 1: gunicorn (4 workers) + Django + coverage.py behind covship-shim as
PID 1; ~50 requests; SIGTERM to PID 1.

Asserts: the shim exits 0 (gunicorn's status), exactly 4 worker data files
(no master file: no --preload) in $COVSHIP_DATA_DIR = DIR/run-<run_id>, each
readable with coverage.CoverageData, `coverage combine` + `report` succeed
with no warning and show the views, run.json/done.json agree on the run id
and done.json says complete with main exit code 0.

This is the baseline scenario; the tests for the ways coverage gets lost
(shell wrapper, setsid, double SIGTERM, grace) each carry their own control
under tini / dumb-init.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import (App, Checker, Scratch, combine, coverage_files,  # noqa: E402
                     load, markers, parse_args, read_data_files)


def main():
    a = parse_args()
    c = Checker("shim test 1: gunicorn graceful stop keeps every worker file")
    with Scratch(a.keep) as s:
        cov = s.sub("cov")
        app = App([a.shim, "--coverage-dir", cov, "--"], s.sub("work"))
        try:
            c.check(app.wait_booted(), "gunicorn booted 4 workers")
            pids = load(app.sock, 50)
            c.info(f"{len(pids)} distinct workers answered /whoami/")
            rc, dt = app.stop()
        finally:
            app.close()
        c.check(rc == 0, "shim exited with gunicorn's status 0",
                f"status {rc}, {dt:.2f} s after SIGTERM")
        run, done = markers(cov)
        c.check(run is not None, "run.json written")
        c.check(done is not None, "done.json written")
        run = run or {}
        done = done or {}
        data_dir = os.path.join(cov, run.get("data_dir", "?"))
        files = coverage_files(cov)
        c.check(len(files) == 4, "4 worker coverage files",
                f"found {len(files)}: {[os.path.basename(f) for f in files]}")
        c.check(files and all(os.path.dirname(f) == data_dir for f in files),
                "files are in COVSHIP_DATA_DIR (DIR/run-<run_id>)", data_dir)
        res = read_data_files(files)
        bad = {os.path.basename(p): v[1] for p, v in res.items() if not v[0]}
        c.check(not bad, "every file reads with coverage.CoverageData", str(bad))
        ok, out = combine(files, s.sub("combined"))
        c.check(ok, "coverage combine + report succeed without warnings",
                out if not ok else "")
        c.check("demo/views/whoami.py" in out and "demo/views/items.py" in out,
                "report lists the views")
        c.check(done.get("run_id") == run.get("run_id") and
                len(str(run.get("run_id", ""))) == 32,
                "done.json run_id equals run.json's (32 hex)")
        c.check(done.get("status") == "complete", "done.json status complete",
                str(done.get("status")))
        main_ = done.get("main") or {}
        c.check(main_.get("exit_code") == 0 and main_.get("signal") is None
                and done.get("exit_status") == 0,
                "done.json: main exit_code 0, exit_status 0", str(main_))
        if c.failed:
            print(app.log_tail())
    c.finish()


if __name__ == "__main__":
    main()
