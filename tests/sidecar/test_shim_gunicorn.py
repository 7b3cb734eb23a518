#!/usr/bin/python3
"""Test 1: covship-shim as PID 1 (unshare --pid) in front of gunicorn +
coverage.py, `covship watch` on the same directory, file:// destination.

Scenarios: SIGTERM to app and sidecar at the same instant (ECS without
dependsOn), and in order (app first). Each time the delivered bundles hold
every worker's coverage file (readable by coverage.py), every SHA-256
matches the manifest, the manifest carries the shim's done.json, and the
sidecar exits 0.
Control: the same simultaneous stop with tini as PID 1 (no marker): the
sidecar cannot know when the files are final, and the same checks fail."""
import os
import re
import shutil
import signal
import sys
import time

from sidecarlib import (Checker, Scratch, Watch, delivered_files, parse_args, wait_for,
                        spool_leftovers)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shim"))
import testlib  # noqa: E402  (the shim tests' app helpers)

WORKERS = 3


def scenario(a, c, s, name, simultaneous, init="shim"):
    """Returns True when every check of the scenario passed."""
    base = s.sub(name)
    cov, dest = os.path.join(base, "cov"), os.path.join(base, "dest")
    spool = os.path.join(base, "spool")
    os.makedirs(cov)
    os.makedirs(dest)
    w = Watch(a.covship, ["--dir", cov, "--dest", "file://" + dest, "--spool", spool,
                          "--drain-timeout", "40" if init == "shim" else "6"],
              os.path.join(base, "watch.log"))
    s.cleanups.append(w.kill)
    w.wait_started(spool)
    if init == "shim":
        app = testlib.App([a.shim, "--coverage-dir", cov, "--grace", "25", "--"], base,
                          workers=WORKERS)
    else:
        app = testlib.App([testlib.TINI, "--"], base, workers=WORKERS, COVERAGE_DIR=cov)
    s.cleanups.append(app.close)
    booted = app.wait_booted(40)
    ok = c.check(bool(booted), f"{name}: app booted with {WORKERS} workers", app.log_tail(300))
    worker_pids = sorted(int(f.split(".")[1]) for f in os.listdir(app.ready))
    testlib.load(app.sock, 60)
    if simultaneous:
        app.ns.signal(signal.SIGTERM)
        w.signal(signal.SIGTERM)
        app_rc = app.ns.wait(60)
    else:
        app_rc = app.ns.wait(0) if False else None
        app.ns.signal(signal.SIGTERM)
        app_rc = app.ns.wait(60)
        time.sleep(0.5)
        w.signal(signal.SIGTERM)
    rc = w.wait(60)
    c.info(f"{name}: app exit {app_rc}, sidecar exit {rc}")
    ok &= c.check(rc == 0, f"{name}: sidecar drained and exited 0", f"rc={rc}\n{w.log()[-600:]}")
    seen, mans, probs = delivered_files(dest)
    ok &= c.check(bool(seen) and not probs, f"{name}: bundles delivered, SHA-256s match the manifests",
                  "; ".join(probs[:3]))
    names = [p.decode(errors="replace") for p in seen]
    pids = sorted(int(m.group(1)) for n in names
                  for m in [re.search(r"\.coverage\.[^/]*?\.(\d+)\.\w+$", n)] if m)
    ok &= c.check(pids == worker_pids and all(len(v) == 1 for v in seen.values()),
                  f"{name}: every worker's coverage file delivered once",
                  f"workers {worker_pids}, delivered {names}")
    run_json, done_json = testlib.markers(cov)
    run_id = (run_json or {}).get("run_id")
    marker = next((m["marker"] for m in mans if m.get("marker")), None)
    ok &= c.check(marker is not None and marker.get("run_id") == run_id and
                  marker.get("status") == "complete",
                  f"{name}: a manifest carries the shim's done.json of this run",
                  f"marker={marker and marker.get('status')}")
    ok &= c.check(all(m.get("run_id") == run_id for m in mans) and run_id is not None,
                  f"{name}: bundles are named after the run id")
    out = os.path.join(base, "extracted")
    os.makedirs(out)
    paths = []
    for i, (p, datas) in enumerate(seen.items()):
        q = os.path.join(out, f".coverage.x.{i}")
        with open(q, "wb") as fh:
            fh.write(datas[0])
        paths.append(q)
    res = testlib.read_data_files(paths)
    ok &= c.check(bool(res) and all(v[0] and v[1] > 0 for v in res.values()),
                  f"{name}: every delivered file is readable coverage data with lines",
                  str(list(res.values())[:4]))
    ok &= c.check(not spool_leftovers(spool), f"{name}: spool empty")
    w.kill()
    app.close()
    return ok


a = parse_args(lambda p: p.add_argument("--shim", required=True))
c = Checker("sidecar + shim + gunicorn")
if os.geteuid() != 0:
    print("SKIP: needs root for unshare --pid", flush=True)
    sys.exit(77)
with Scratch(a.keep) as s:
    scenario(a, c, s, "simultaneous", True)
    scenario(a, c, s, "app-first", False)
    # control: the same checks under tini must fail
    print("--- control under tini: the same checks, expected to fail", flush=True)
    sub = Checker("control under tini", labels=("control-held", "control-failed(expected)"))
    passed = scenario(a, sub, s, "tini-simultaneous", True, init="tini")
    c.check(not passed and sub.failed > 0,
            "control: under tini the same checks fail (no marker, files not final)",
            f"{sub.failed} checks failed")
c.finish()
