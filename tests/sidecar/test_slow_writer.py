#!/usr/bin/python3
"""Test 2: a writer that keeps a coverage file open and appends slowly, and
one that re-opens, appends and closes again and again, are never bundled
before they are final.

- snapshot mode (--snapshot-interval 1 --settle 2): nothing of either file
  is delivered while the writers run; afterwards each arrives complete.
- marker mode: a file closed long ago is still not bundled until the run's
  done.json appears.
Control: a naive close-write trigger (`inotifywait -e close_write` + copy,
the shell baseline) copies the re-opened file early, incomplete."""
import os
import shutil
import subprocess
import threading
import time

from sidecarlib import (Checker, Scratch, Watch, delivered_files, fake_done, fake_run,
                        parse_args, wait_for, bundles)

RUN = "5105105105105105105105105105105a"
STEPS, PAUSE, CHUNK = 10, 0.4, b"x" * 1000 + b"\n"


def writer_open(path):
    with open(path, "ab") as fh:
        for _ in range(STEPS):
            fh.write(CHUNK)
            fh.flush()
            time.sleep(PAUSE)


def writer_reopen(path):
    for _ in range(STEPS):
        with open(path, "ab") as fh:
            fh.write(CHUNK)
        time.sleep(PAUSE)


def naive_trigger(watch_dir, out_dir, stop):
    """inotifywait -m -e close_write: copy whatever was just closed."""
    p = subprocess.Popen(["inotifywait", "-m", "-q", "-r", "-e", "close_write",
                          "--format", "%w%f", watch_dir], stdout=subprocess.PIPE)
    copies = []

    def reader():
        for line in p.stdout:
            src = line.decode().rstrip("\n")
            if os.path.basename(src).startswith(".coverage"):
                try:
                    with open(src, "rb") as fh:
                        copies.append((src, len(fh.read())))
                except OSError:
                    pass
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    stop.wait()
    p.terminate()
    p.wait()
    t.join(2)
    return copies


a = parse_args()
c = Checker("sidecar slow writer")
final_len = STEPS * len(CHUNK)
with Scratch(a.keep) as s:
    cov, dest, spool = s.sub("cov"), s.sub("dest"), os.path.join(s.path, "spool")
    data = fake_run(cov, RUN)
    w = Watch(a.covship, ["--dir", cov, "--dest", "file://" + dest, "--spool", spool,
                          "--snapshot-interval", "1", "--settle", "2", "--drain-timeout", "5"],
              os.path.join(s.path, "watch.log"))
    s.cleanups.append(w.kill)
    time.sleep(0.3)
    slow, reopen = os.path.join(data, ".coverage.slow"), os.path.join(data, ".coverage.reopen")
    stop = threading.Event()
    naive = {}
    nt = threading.Thread(target=lambda: naive.setdefault("c", naive_trigger(data, None, stop)))
    nt.start()
    time.sleep(0.3)
    ws = [threading.Thread(target=writer_open, args=(slow,)),
          threading.Thread(target=writer_reopen, args=(reopen,))]
    for t in ws:
        t.start()
    early = []
    while any(t.is_alive() for t in ws):
        if bundles(dest):
            early.append(sorted(delivered_files(dest)[0]))
        time.sleep(0.1)
    writers_done = time.monotonic()
    stop.set()
    nt.join()
    c.check(not early, "snapshot: nothing bundled while the writers were still writing",
            str(early[:1]))
    got = wait_for(lambda: len(delivered_files(dest)[0]) >= 2, 10)
    seen, mans, probs = delivered_files(dest)
    c.info(f"delivered {time.monotonic() - writers_done:.1f}s after the writers stopped")
    c.check(not probs, "snapshot: bundles well-formed", "; ".join(probs))
    for name in (".coverage.slow", ".coverage.reopen"):
        key = f"run-{RUN}/{name}".encode()
        c.check([len(x) for x in seen.get(key, [])] == [final_len],
                f"snapshot: {name} delivered once and complete ({final_len} bytes)",
                str([len(x) for x in seen.get(key, [])]))
    copies = naive.get("c", [])
    first = [n for src, n in copies if src.endswith(".coverage.reopen")][:1]
    c.check(bool(first) and first[0] < final_len,
            "control: the naive close-write trigger takes .coverage.reopen early",
            f"first copy {first} of {final_len} bytes")

    # marker mode: closed and quiet for long, but no done.json yet
    w.signal(15)
    c.check(w.wait(15) == 0, "snapshot watcher drained, exit 0")
    w.kill()
    cov2, dest2 = s.sub("cov2"), s.sub("dest2")
    data2 = fake_run(cov2, RUN)
    w2 = Watch(a.covship, ["--dir", cov2, "--dest", "file://" + dest2, "--spool",
                           os.path.join(s.path, "spool2"), "--drain-timeout", "5"],
               os.path.join(s.path, "watch2.log"))
    s.cleanups.append(w2.kill)
    time.sleep(0.3)
    f = os.path.join(data2, ".coverage.marker")
    writer_reopen(f)
    time.sleep(2.5)
    c.check(not bundles(dest2), "marker mode: a closed, settled file waits for done.json")
    fake_done(cov2, RUN)
    wait_for(lambda: bundles(dest2), 10)
    seen2, mans2, probs2 = delivered_files(dest2)
    key = f"run-{RUN}/.coverage.marker".encode()
    c.check([len(x) for x in seen2.get(key, [])] == [final_len] and not probs2,
            "marker mode: delivered complete once done.json came")
    c.check(bool(mans2) and (mans2[0].get("marker") or {}).get("run_id") == RUN,
            "marker mode: the manifest carries done.json")
    w2.signal(15)
    c.check(w2.wait(15) == 0, "marker watcher drained, exit 0")
c.finish()
