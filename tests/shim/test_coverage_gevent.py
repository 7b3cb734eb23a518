#!/usr/bin/python3
"""Coverage setup, gunicorn's gevent worker (docs/coverage-setup.md).

The test app under `gunicorn -k gevent` (1 worker) behind covship-shim,
recording as the example image does (COVERAGE_PROCESS_START,
docker/example-app/.coveragerc).  400 requests, 20 at a time, mixing
/greenlets/ (gevent.sleep(0) between its lines) with three other views, then
SIGTERM to PID 1.

Documented config (`concurrency = gevent`): the run is complete, every line
after each greenlet switch is measured.  Checker control: a view never
requested in this run (/sidejob/) has none of its body lines measured, so
the line checks can fail.

Without the config (the example config as is): coverage.py's docs say the
thread tracer does not follow greenlet switches.  On Debian 12 (gevent 22.10,
coverage.py 6.5 C tracer) this test has not seen a lost line in any run, so
the number of missing lines is printed as info, not asserted; the docs say
so.
"""
import os
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from covsetup import (ProcessApp, data_files, marked_lines, measured,  # noqa: E402
                      write_rcfile)
from testlib import (PYTHON, Checker, Scratch, markers, parse_args,  # noqa: E402
                     request)

import subprocess  # noqa: E402

PATHS = ["/greenlets/", "/items/", "/echo/?text=a", "/compute/30/"]


def run(a, s, name, concurrency):
    rc_file = write_rcfile(os.path.join(s.sub(name), "coveragerc"), concurrency)
    cov = s.sub(name + "/cov")
    app = ProcessApp(a.shim, s.sub(name + "/work"), cov, rc_file, "gevent", 1,
                     5, 10)
    try:
        booted = app.wait_booted()
        with ThreadPoolExecutor(20) as ex:
            codes = list(ex.map(
                lambda i: request(app.sock, PATHS[i % len(PATHS)], 10)[0],
                range(400)))
        rc, dt = app.stop()
    finally:
        app.close()
    files = data_files(cov)
    lines, bad = measured(files)
    return dict(booted=booted, ok=codes.count(200), files=files, lines=lines,
                bad=bad, done=markers(cov)[1] or {}, rc=rc, dt=dt,
                log=app.log_tail())


def main():
    a = parse_args()
    r = subprocess.run([PYTHON, "-c", "import gevent"], capture_output=True)
    if r.returncode != 0:
        print("FAIL: python3-gevent missing; run scripts/deps.sh", flush=True)
        sys.exit(1)
    c = Checker("coverage setup: gunicorn gevent worker")
    marks = marked_lines("demo/views/greenlets.py")
    after = {marks["before-switch"], marks["after-switch-1"],
             marks["after-switch-2"]}
    with Scratch(a.keep) as s:
        r = run(a, s, "documented", "gevent")
        c.check(r["booted"] and r["ok"] == 400,
                "documented config: 400 of 400 requests answered",
                f"{r['ok']} answered")
        c.check(r["rc"] == 0 and r["done"].get("status") == "complete",
                "documented config: shim exit 0, done.json complete",
                f"rc {r['rc']}, {r['done'].get('status')}, {r['dt']:.1f} s")
        c.check(len(r["files"]) == 2 and r["bad"] == 0,
                "documented config: master and worker files, both readable",
                f"{len(r['files'])} files, {r['bad']} unreadable")
        got = r["lines"].get("greenlets.py", set())
        c.check(after <= got,
                "documented config: the lines before and after each greenlet "
                "switch are measured", f"missing {sorted(after - got)}")
        job = marked_lines("demo/views/sidejob.py")
        unrun = {job["job-start"], job["job-started"]}
        c.check(not (unrun & r["lines"].get("sidejob.py", set())),
                "checker control: an unrequested view's lines are not measured")
        if c.failed:
            print(r["log"])

        k = run(a, s, "control", None)
        c.check(k["ok"] == 400 and k["done"].get("status") == "complete",
                "without concurrency = gevent: run completes")
        got = k["lines"].get("greenlets.py", set())
        c.info(f"without concurrency = gevent: {len(after - got)} of "
               f"{len(after)} marked lines missing {sorted(after - got)} "
               "(not asserted: no loss reproduced with gevent 22.10 + "
               "coverage.py 6.5)")
    c.finish()


if __name__ == "__main__":
    main()
