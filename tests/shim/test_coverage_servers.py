#!/usr/bin/python3
"""Coverage setup per gunicorn server type, the example config as it is
(docs/coverage-setup.md, table "Per server type").

One row per server type: the test app under gunicorn (2 workers) behind
covship-shim as PID 1, recording as the example image does
(COVERAGE_PROCESS_START, docker/example-app/.coveragerc unchanged but for
`source_pkgs`).  Each row sends real traffic, 8 requests at a time, to four
views (/items/?reverse=1, /echo/?upper=1, /compute/25/, /whoami/), then
SIGTERM to PID 1, and asserts:

- every request answered, shim exit 0, done.json `complete`;
- every worker that served a request wrote a data file, every file reads,
  and each serving worker's file holds lines of the views;
- the `# mark:` lines of the four views (one per branch taken only by the
  query sent) are measured in the union of the files.

Who served: gunicorn's access log with the worker pid (`%(p)s`), plus the pid
/whoami/ answers (uvicorn's worker logs access in its own format, no pid).
All pids are the namespace's, as in coverage.py's file names.

Rows: sync (the default), gthread (`--threads 4`), `--preload` (the workers
inherit the master's coverage.py across fork), `--max-requests 5` with 60
requests (at least 12 worker generations; every recycled worker's file must
be there, and the files must number at least the generations), UvicornWorker
(project/asgi.py).  Control row: sync without /compute/ in the traffic: the
compute view's marked lines are NOT measured there (the line checks can
fail), without --max-requests the 2 workers are never recycled (the
generation count can fail), and a serving worker's file left out of the
set fails the file check (served and writer pids are the same namespace's).
"""
import math
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from covsetup import (ProcessApp, data_files, marked_lines, measured,  # noqa: E402
                      write_rcfile)
from testlib import (PYTHON, Checker, Scratch, markers, parse_args,  # noqa: E402
                     request)

import json  # noqa: E402
import subprocess  # noqa: E402

WORKERS, N, PARALLEL, MAX_REQUESTS = 2, 60, 8, 5
PATHS = ["/items/?reverse=1", "/echo/?text=ab&upper=1", "/compute/25/",
         "/whoami/"]
# (view file, mark) measured when the path is requested
MARKS = {"/items/?reverse=1": [("items.py", "items-reverse")],
         "/echo/?text=ab&upper=1": [("echo.py", "echo-upper")],
         "/compute/25/": [("compute.py", "compute-loop"),
                          ("compute.py", "compute-return")],
         "/whoami/": [("whoami.py", "whoami")]}
ACCESS_FORMAT = "%(p)s %(s)s %(U)s"

# name: (worker class, extra gunicorn args, app, ready files, paths)
ROWS = [
    ("sync", "sync", [], "project.wsgi_process", None, PATHS),
    ("gthread", "gthread", ["--threads", "4"], "project.wsgi_process", None,
     PATHS),
    ("preload", "sync", ["--preload"], "project.wsgi_process", 1, PATHS),
    ("max-requests", "sync", ["--max-requests", str(MAX_REQUESTS)],
     "project.wsgi_process", None, PATHS),
    ("uvicorn", "uvicorn.workers.UvicornWorker", [], "project.asgi", None,
     PATHS),
    ("control", "sync", [], "project.wsgi_process", None,
     [p for p in PATHS if not p.startswith("/compute/")]),
]


def file_pid(path):
    """Writer pid from coverage.py's `.coverage.<host>.<pid>.<random>`."""
    return int(os.path.basename(path).split(".")[-2])


def served_pids(access_log, bodies):
    """Namespace pids of the workers that answered a request."""
    pids = set()
    try:
        with open(access_log) as fh:
            for line in fh:
                m = re.match(r"<(\d+)> \d{3} /", line)
                if m:
                    pids.add(int(m.group(1)))
    except OSError:
        pass
    for path, body in bodies:
        if path == "/whoami/" and body:
            pids.add(json.loads(body)["pid"])
    return pids


def run(a, s, name, klass, extra, app_mod, ready, paths):
    rc_file = write_rcfile(os.path.join(s.sub(name), "coveragerc"))
    cov = s.sub(name + "/cov")
    work = s.sub(name + "/work")
    access = os.path.join(work, "access.log")
    extra = list(extra) + ["--access-logfile", access,
                           "--access-logformat", ACCESS_FORMAT]
    app = ProcessApp(a.shim, work, cov, rc_file, klass, WORKERS, 5, 10,
                     extra, app=app_mod, ready_files=ready)
    t0 = time.monotonic()
    try:
        booted = app.wait_booted()

        def one(i):
            p = paths[i % len(paths)]
            try:
                st, body = request(app.sock, p, 15)
            except OSError:
                return p, None, None
            return p, st, body
        with ThreadPoolExecutor(PARALLEL) as ex:
            res = list(ex.map(one, range(N)))
        rc, dt = app.stop()
    finally:
        app.close()
    files = data_files(cov)
    lines, bad = measured(files)
    per_file = {file_pid(f): measured([f]) for f in files}
    return dict(booted=booted, ok=sum(1 for r in res if r[1] == 200),
                files=files, lines=lines, bad=bad, per_file=per_file,
                served=served_pids(access, [(p, b) for p, st, b in res
                                            if st == 200]),
                done=markers(cov)[1] or {}, rc=rc, dt=dt,
                total=time.monotonic() - t0, log=app.log_tail())


def main():
    a = parse_args()
    r = subprocess.run([PYTHON, "-c", "import uvicorn.workers"],
                       capture_output=True)
    if r.returncode != 0:
        print("FAIL: python3-uvicorn missing; run scripts/deps.sh", flush=True)
        sys.exit(1)
    c = Checker("coverage setup: gunicorn server types, example config")
    mark_no = {}
    for path, marks in MARKS.items():
        for f, m in marks:
            mark_no[(f, m)] = marked_lines("demo/views/" + f)[m]
    with Scratch(a.keep) as s:
        for name, klass, extra, app_mod, ready, paths in ROWS:
            r = run(a, s, name, klass, extra, app_mod, ready, paths)
            c.check(r["booted"] and r["ok"] == N,
                    f"{name}: {N} of {N} requests answered",
                    f"booted {r['booted']}, {r['ok']} answered")
            c.check(r["rc"] == 0 and r["done"].get("status") == "complete",
                    f"{name}: shim exit 0, done.json complete",
                    f"rc {r['rc']}, {r['done'].get('status')}, "
                    f"stop {r['dt']:.1f} s")
            writers = set(r["per_file"])
            served = r["served"]
            c.check(served and served <= writers and r["bad"] == 0,
                    f"{name}: every worker that served a request wrote a "
                    "data file, every file reads",
                    f"served by {sorted(served)}, writers {sorted(writers)}, "
                    f"{r['bad']} unreadable")
            empty = sorted(p for p in served & writers
                           if not any(r["per_file"][p][0].get(v)
                                      for v, _ in sum(MARKS.values(), [])))
            c.check(not empty, f"{name}: each serving worker's file holds "
                    "lines of the views", f"no view lines from {empty}")
            want = {k: v for k, v in mark_no.items()
                    if any(k in MARKS[p] for p in paths)}
            missing = sorted(f"{f}:{no} ({m})" for (f, m), no in want.items()
                             if no not in r["lines"].get(f, set()))
            c.check(not missing, f"{name}: the marked lines of the requested "
                    f"views are measured ({len(want)} lines)",
                    f"missing {missing}")
            gens = len(served)
            if name == "max-requests":
                need = math.ceil(N / MAX_REQUESTS)
                c.check(gens >= need,
                        f"{name}: workers recycled mid-traffic: {gens} worker "
                        f"generations served (>= {need})")
                c.check(len(r["files"]) >= gens,
                        f"{name}: data files ({len(r['files'])}) >= worker "
                        f"generations ({gens})")
            if name == "control":
                unrun = {mark_no[k] for k in MARKS["/compute/25/"]}
                got = r["lines"].get("compute.py", set())
                c.check(not (unrun & got),
                        "control: the never-requested /compute/ view's "
                        f"marked lines {sorted(unrun)} are not measured",
                        f"measured {sorted(unrun & got)}")
                lost = min(served)
                c.check(not served <= writers - {lost},
                        "checker control: dropping one serving worker's file "
                        f"(pid {lost}) fails the file check (the access-log "
                        "pids and the file names' pids are the same)")
                c.check(gens <= WORKERS,
                        f"control: without --max-requests no worker is "
                        f"recycled ({gens} generations <= {WORKERS}), so "
                        "the generation count can fail")
            c.info(f"{name}: {len(r['files'])} data files, served by "
                   f"{gens} workers, stop {r['dt']:.1f} s, row "
                   f"{r['total']:.1f} s")
            if c.failed:
                print(r["log"])
                break
    c.finish()


if __name__ == "__main__":
    main()
