#!/usr/bin/python3
"""Test 5: 10,000 coverage files; a tiny tmpfs spool that fills up in the
middle of the bundle, then a tiny tmpfs destination that is full.

Each time: a clear "No space left on device" error, the sources intact,
no partial bundle or temporary left behind, health state "retrying"; once
space is back (remount), everything is delivered exactly once and intact.
Control: the shell baseline (`tar czf` to the spool, `cp`, `rm` the
sources) on the same full tmpfs loses the files."""
import hashlib
import json
import os
import subprocess
import sys
import time

from sidecarlib import (Checker, Scratch, Watch, delivered_files, fake_done, fake_run,
                        parse_args, spool_leftovers, wait_for, bundles)

RUN = "7e577e577e577e577e577e577e577e57"
N = int(os.environ.get("T5_N", "10000"))


def mount_tmpfs(s, path, size):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", path],
                   check=True)
    s.cleanups.append(lambda: subprocess.run(["umount", "-l", path], check=False))


def remount(path, size):
    subprocess.run(["mount", "-o", f"remount,size={size}", path], check=True)


def state(spool):
    try:
        with open(os.path.join(spool, "status.json")) as fh:
            return json.load(fh).get("state")
    except (OSError, ValueError):
        return None


def count_sources(data):
    return sum(1 for f in os.listdir(data) if f.startswith(".coverage"))


a = parse_args()
c = Checker("sidecar 10,000 files, full tmpfs")
if os.geteuid() != 0:
    print("SKIP: needs root for mount -t tmpfs", flush=True)
    sys.exit(77)
with Scratch(a.keep) as s:
    cov = s.sub("cov")
    spool, dest = os.path.join(s.path, "spool"), os.path.join(s.path, "dest")
    mount_tmpfs(s, spool, "4m")
    mount_tmpfs(s, dest, "1m")
    data = fake_run(cov, RUN)
    originals = {}
    for i in range(N):
        body = os.urandom(1024) + b"%d" % i  # random: the bundle is ~10 MiB
        with open(os.path.join(data, f".coverage.host.{i}.{i * 7}"), "wb") as fh:
            fh.write(body)
        originals[f"run-{RUN}/.coverage.host.{i}.{i * 7}".encode()] = hashlib.sha256(body).hexdigest()
    w = Watch(a.covship, ["--dir", cov, "--dest", "file://" + dest, "--spool", spool,
                          "--retry-max", "1", "--drain-timeout", "30"],
              os.path.join(s.path, "watch.log"))
    s.cleanups.append(w.kill)
    w.wait_started(spool)
    fake_done(cov, RUN)

    # 1: the spool fills up mid-bundle
    ok = wait_for(lambda: "No space left on device" in w.log(), 30, 0.1)
    c.check(bool(ok), "spool full: the log says 'No space left on device'",
            w.log()[-300:])
    time.sleep(0.3)
    c.check(count_sources(data) == N, "spool full: all sources intact", str(count_sources(data)))
    left = spool_leftovers(spool)
    c.check(all(f.endswith(".plan.json") for f in left),
            "spool full: no partial bundle or temporary left in the spool", str(left))
    c.check(state(spool) == "retrying", "spool full: status.json says retrying", str(state(spool)))
    c.check(not bundles(dest), "spool full: nothing delivered yet")

    # 2: space in the spool, but the destination is full
    remount(spool, "64m")
    ok = wait_for(lambda: "file destination" in w.log() and
                  w.log().count("No space left on device") >= 2, 30, 0.1)
    c.check(bool(ok), "destination full: delivery fails with a clear error", w.log()[-300:])
    time.sleep(0.3)
    left = spool_leftovers(spool)
    c.check(count_sources(data) == N and any(".tar.gz" in f for f in left),
            "destination full: sources intact, the bundle waits in the spool", str(left))

    # 3: space everywhere: delivered, exactly once
    remount(dest, "64m")
    wait_for(lambda: count_sources(data) == 0 and not spool_leftovers(spool), 60, 0.1)
    w.signal(15)
    rc = w.wait(30)
    c.check(rc == 0, "after the remounts: drained and exited 0", f"rc={rc}")
    seen, mans, probs = delivered_files(dest)
    bad = [p for p, h in originals.items()
           if len(seen.get(p, [])) != 1 or hashlib.sha256(seen[p][0]).hexdigest() != h]
    c.check(not probs and not bad and len(seen) == N,
            f"all {N} files delivered exactly once and intact",
            f"{len(bad)} bad, {len(seen)} seen; {probs[:2]}")
    c.check(count_sources(data) == 0 and not spool_leftovers(spool),
            "sources removed and spool empty after delivery")

    # 4: a watcher started on a spool that is already full waits for space
    # (a full disk is retried, not a configuration error with exit 2)
    RUN3 = "5ee5ee5ee5ee5ee5ee5ee5ee5ee5ee5e"
    cov3, dest3 = s.sub("cov3"), s.sub("dest3")
    spool3 = os.path.join(s.path, "spool3")
    mount_tmpfs(s, spool3, "1m")
    with open(os.path.join(spool3, "filler"), "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    data3 = fake_run(cov3, RUN3)
    for i in range(10):
        with open(os.path.join(data3, f".coverage.full.{i}"), "wb") as fh:
            fh.write(os.urandom(2048))
    w3 = Watch(a.covship, ["--dir", cov3, "--dest", "file://" + dest3, "--spool", spool3,
                           "--retry-max", "1", "--drain-timeout", "30"],
               os.path.join(s.path, "watch3.log"))
    s.cleanups.append(w3.kill)
    fake_done(cov3, RUN3)
    time.sleep(1.0)
    c.check(w3.proc.poll() is None, "full spool at start: the watcher keeps running",
            f"rc={w3.proc.poll()} {w3.log()[-300:]}")
    c.check(count_sources(data3) == 10 and not bundles(dest3),
            "full spool at start: sources intact, nothing delivered yet")
    os.unlink(os.path.join(spool3, "filler"))
    wait_for(lambda: count_sources(data3) == 0, 30, 0.1)
    w3.signal(15)
    rc3 = w3.wait(30)
    seen3, _, probs3 = delivered_files(dest3)
    c.check(rc3 == 0 and not probs3 and len(seen3) == 10,
            "full spool at start: once space is back, all 10 delivered and exit 0",
            f"rc={rc3} seen={len(seen3)} {probs3[:2]}")

    # control: the shell baseline on a full tmpfs
    cov2 = s.sub("cov2")
    for i in range(2000):
        with open(os.path.join(cov2, f".coverage.h.{i}"), "wb") as fh:
            fh.write(os.urandom(1024))
    spool2 = os.path.join(s.path, "spool2")
    mount_tmpfs(s, spool2, "1m")
    dest2 = s.sub("dest2")
    subprocess.run(["sh", "-c", 'tar czf "$1/b.tar.gz" -C "$2" . ; cp "$1/b.tar.gz" "$3/" ; '
                    'rm -f "$2"/.coverage.*', "sh", spool2, cov2, dest2],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import tarfile
    try:
        with tarfile.open(os.path.join(dest2, "b.tar.gz")) as t:
            n2 = sum(1 for m in t.getmembers() if m.isfile())
    except Exception:
        n2 = 0
    c.check(n2 < 2000 and count_sources(cov2) == 0,
            "control: the baseline deleted the sources of files it never delivered",
            f"{n2} of 2000 delivered")
c.finish()
