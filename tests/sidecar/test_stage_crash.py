#!/usr/bin/python3
"""Staging and crashes: run after run, the coverage files are staged
(compressed ahead) before done.json, then the watcher is SIGKILLed at a
random moment after done.json (while the stage log becomes the bundle, is
delivered or cleaned up) and restarted: every file is delivered exactly
once (one bundle per name, each file in one bundle), intact, and nothing is
left in the volume, the spool or SPOOL/stage.

Controls: (a) the files were staged before each done.json (debug log), and
at least some kills landed mid-flight (a plan or bundle in the spool), so
the crash windows of the staged path were exercised; (b) the checker flags
a duplicated and a lost file.

A power cut (not a SIGKILL) can leave one more state: a new plan is written
without an fsync of its own (the fsync before its bundle is named makes it
durable), so its name may survive with torn content, never with a bundle.
Last round: such a plan (empty, and one cut mid-JSON) for the very sequence
numbers the run then uses: removed at start, the run delivered exactly
once. Control: a torn plan next to a bundle is left alone (the spool is not
empty, the watcher says it is unreadable)."""
import hashlib
import os
import random
import shutil
import signal
import time

from sidecarlib import (Checker, Scratch, Watch, bundles, fake_done, fake_run, parse_args,
                        spool_leftovers, verify_exactly_once, wait_for)

ROUNDS, FILES, SIZE = 10, 6, 96 * 1024


a = parse_args()
seed = int(os.environ.get("COVSHIP_TEST_SEED", str(int(time.time()))))
rnd = random.Random(seed)
c = Checker("sidecar staging under SIGKILL")
c.info(f"seed {seed} (COVSHIP_TEST_SEED to replay)")
with Scratch(a.keep) as s:
    cov, dest, spool = s.sub("cov"), s.sub("dest"), os.path.join(s.path, "spool")
    args = ["--dir", cov, "--dest", "file://" + dest, "--spool", spool, "--retry-max", "1",
            "--drain-timeout", "20", "--log-level", "debug"]
    originals = {}
    staged_ok = midflight = 0
    for rnd_i in range(ROUNDS):
        run_id = "%032x" % (0x5ca1ab1e0000 + rnd_i)
        done = os.path.join(cov, ".covship", "done.json")
        if os.path.exists(done):
            os.unlink(done)  # as the shim does before a new run
        data = fake_run(cov, run_id)
        for j in range(FILES):
            body = os.urandom(SIZE // 2) + bytes(SIZE // 2)
            name = f".coverage.r{rnd_i}.{j}"
            with open(os.path.join(data, name), "wb") as fh:
                fh.write(body)
            originals[f"run-{run_id}/{name}".encode()] = hashlib.sha256(body).hexdigest()
        log = os.path.join(s.path, f"watch-{rnd_i}.log")
        w = Watch(a.covship, args, log)
        s.cleanups.append(w.kill)
        if wait_for(lambda: w.log().count("debug: staged ") >= FILES, 20):
            staged_ok += 1
        fake_done(cov, run_id)
        time.sleep(rnd.uniform(0.0, 0.008))  # the staged path takes a few ms
        w.kill()
        if spool_leftovers(spool):
            midflight += 1
        # a second life, killed again half the time, then one that finishes
        w = Watch(a.covship, args, log)
        s.cleanups.append(w.kill)
        if rnd.random() < 0.5:
            time.sleep(rnd.uniform(0.0, 0.03))
            w.kill()
            w = Watch(a.covship, args, log)
            s.cleanups.append(w.kill)
        finished = wait_for(lambda: not spool_leftovers(spool) and not any(
            f.startswith(".coverage") for f in os.listdir(data)), 30)
        w.kill()  # whatever it does next (the drain is other tests' business)
        c.check(finished, f"round {rnd_i}: delivered, spool and volume empty", w.log()[-300:])
    c.check(staged_ok == ROUNDS, f"control: files staged before done.json in every round "
            f"({staged_ok}/{ROUNDS})")
    c.check(midflight >= 1, f"control: kills landed mid-flight ({midflight}/{ROUNDS})")
    # a power cut's torn plans (no bundle) for the next run's sequence numbers
    run_id = "%032x" % (0x5ca1ab1e0000 + ROUNDS)
    os.unlink(os.path.join(cov, ".covship", "done.json"))
    data = fake_run(cov, run_id)
    for j in range(FILES):
        body = os.urandom(SIZE // 2) + bytes(SIZE // 2)
        with open(os.path.join(data, f".coverage.torn.{j}"), "wb") as fh:
            fh.write(body)
        originals[f"run-{run_id}/.coverage.torn.{j}".encode()] = hashlib.sha256(body).hexdigest()
    for seq, body in ((1, b""), (2, b'{"schema":1,"run_id":"' + run_id.encode())):
        with open(os.path.join(spool, f"{run_id}-{seq:06d}.plan.json"), "wb") as fh:
            fh.write(body)
    log = os.path.join(s.path, "watch-torn.log")
    w = Watch(a.covship, args, log)
    s.cleanups.append(w.kill)
    fake_done(cov, run_id)
    finished = wait_for(lambda: not spool_leftovers(spool) and not any(
        f.startswith(".coverage") for f in os.listdir(data)), 30)
    w.signal(signal.SIGTERM)  # a drain: it ends once the marker is recorded too
    w.wait(30)
    c.check(finished and w.log().count("a plan whose writing a crash cut short") == 2,
            "torn plans without a bundle (a power cut) removed, their run delivered",
            w.log()[-300:])
    ok, detail = verify_exactly_once(dest, originals)
    c.check(ok, f"every one of {len(originals)} files delivered exactly once, intact", detail)
    stage = os.path.join(spool, "stage")
    left = spool_leftovers(spool) + (os.listdir(stage) if os.path.isdir(stage) else [])
    c.check(not left, "nothing left in the spool or SPOOL/stage", str(left))
    # control (b): the checker catches a duplicate and a loss
    b = bundles(dest)
    if b:
        shutil.copy(b[0], b[0].replace("-0000", "-9990"))
        c.check(not verify_exactly_once(dest, originals)[0], "control: a duplicated bundle is flagged")
        os.unlink(b[0].replace("-0000", "-9990"))
        os.unlink(b[0])
        c.check(not verify_exactly_once(dest, originals)[0], "control: a lost bundle is flagged")
    # control: a torn plan with a bundle next to it is not removed
    torn = os.path.join(spool, "%032x-000009.plan.json" % 0x5ca1ab1e)
    with open(torn, "wb") as fh:
        fh.write(b"{")
    with open(torn.replace(".plan.json", ".tar.gz"), "wb") as fh:
        fh.write(b"not ours to judge")
    w = Watch(a.covship, args, os.path.join(s.path, "watch-control.log"))
    s.cleanups.append(w.kill)
    seen = wait_for(lambda: "is unreadable; left in place" in w.log(), 10)
    w.kill()
    c.check(seen and os.path.exists(torn) and spool_leftovers(spool),
            "control: a torn plan next to a bundle stays (reported unreadable)")
c.finish()
