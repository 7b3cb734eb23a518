#!/usr/bin/python3
"""Test 3: SIGKILL the watcher at random points while it bundles and
delivers, restart it, again and again: every file ends up delivered exactly
once (one object per bundle name, each file in exactly one bundle), intact
(SHA-256 of the original), and nothing is left in the volume or the spool.

Controls: (a) at least some kills landed mid-flight (a plan, a bundle or a
temporary was in the spool), so the crash windows were really exercised;
(b) the same checker flags a duplicated bundle and a lost file."""
import hashlib
import os
import random
import shutil
import signal
import time

from sidecarlib import (Checker, Scratch, Watch, bundles, fake_done, fake_run, parse_args,
                        read_bundle, spool_leftovers, verify_exactly_once, wait_for)

RUN = "c4a5c4a5c4a5c4a5c4a5c4a5c4a5c4a5"
WAVES, PER_WAVE, SIZE, KILLS_PER_WAVE = 6, 6, 1536 * 1024, 3


a = parse_args()
seed = int(os.environ.get("COVSHIP_TEST_SEED", str(int(time.time()))))
rnd = random.Random(seed)
c = Checker("sidecar crash and restart")
c.info(f"seed {seed} (COVSHIP_TEST_SEED to replay)")
with Scratch(a.keep) as s:
    cov, dest, spool = s.sub("cov"), s.sub("dest"), os.path.join(s.path, "spool")
    data = fake_run(cov, RUN)
    fake_done(cov, RUN)  # the run is over: every coverage file is final at once
    args = ["--dir", cov, "--dest", "file://" + dest, "--spool", spool, "--retry-max", "1",
            "--drain-timeout", "20"]
    log = os.path.join(s.path, "watch.log")
    originals = {}
    watchers = []
    midflight = 0

    def start():
        w = Watch(a.covship, args, log)
        watchers.append(w)
        s.cleanups.append(w.kill)
        return w

    w = start()
    for wave in range(WAVES):
        for j in range(PER_WAVE):
            body = os.urandom(SIZE)
            name = f".coverage.w{wave}.{j}"
            tmp = os.path.join(data, "tmp-" + name[1:])
            with open(tmp, "wb") as fh:
                fh.write(body)
            os.rename(tmp, os.path.join(data, name))  # appears complete
            originals[f"run-{RUN}/{name}".encode()] = hashlib.sha256(body).hexdigest()
        for k in range(KILLS_PER_WAVE):
            if k == 0:  # aim: once the plan is in the spool, i.e. while bundling/delivering
                wait_for(lambda: spool_leftovers(spool), 3, 0.005)
                time.sleep(rnd.uniform(0.0, 0.15))
            else:
                time.sleep(rnd.uniform(0.0, 0.5))
            w.kill()
            if spool_leftovers(spool):
                midflight += 1
            w = start()
    # let the last one finish, then drain
    wait_for(lambda: not any(f.startswith(".coverage") for f in os.listdir(data))
             and not spool_leftovers(spool), 60, 0.1)
    w.wait_started(spool)
    w.signal(signal.SIGTERM)
    rc = w.wait(30)
    c.check(rc == 0, "last watcher drained and exited 0", f"rc={rc}")
    c.info(f"{WAVES * KILLS_PER_WAVE} kills, {midflight} mid-flight, "
           f"{len(bundles(dest))} bundles delivered")
    ok, detail = verify_exactly_once(dest, originals)
    c.check(ok, f"all {len(originals)} files delivered exactly once and intact", detail)
    left = [f for f in os.listdir(data) if f.startswith(".coverage")]
    c.check(not left, "no coverage file left in the volume", str(left[:3]))
    c.check(not spool_leftovers(spool), "nothing left in the spool", str(spool_leftovers(spool)))
    tmps = [f for dp, dn, fn in os.walk(dest) for f in fn if ".tmp." in f]
    c.check(not tmps, "no temporary left in the destination", str(tmps[:3]))
    c.check(midflight > 0, "control: kills hit the spool mid-flight",
            f"{midflight} of {WAVES * KILLS_PER_WAVE}")
    # checker controls
    bs = bundles(dest)
    dup = os.path.join(dest, "dup-copy.tar.gz")
    shutil.copy(bs[0], dup)
    c.check(not verify_exactly_once(dest, originals)[0], "control: a duplicated bundle is detected")
    os.unlink(dup)
    # Hide a bundle that holds coverage data: the run's last bundle may hold
    # only the shim's marker, and hiding that one loses no file.
    victim = next((b for b in reversed(bs) if set(read_bundle(b)[0]) & set(originals)), None)
    c.check(victim is not None, "control: some bundle holds coverage files")
    if victim:
        moved = victim + ".hidden"
        os.rename(victim, moved)
        c.check(not verify_exactly_once(dest, originals)[0], "control: a lost bundle is detected")
        os.rename(moved, victim)
c.finish()
