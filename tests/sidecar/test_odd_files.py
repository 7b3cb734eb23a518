#!/usr/bin/python3
"""Test 4: a symlink to a file outside the volume, a FIFO, and names with
spaces, newlines and non-UTF-8 bytes. The link and the FIFO are skipped
(with a warning, never followed, never blocking), the odd names survive
the round trip byte for byte.

Control: the shell baseline's `tar czhf` (follows links) puts the secret
outside the volume into its archive, which the same check flags."""
import os
import subprocess

from sidecarlib import (Checker, Scratch, Watch, delivered_files, fake_done, fake_run,
                        parse_args, spool_leftovers, wait_for, bundles)

RUN = "0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d"
SECRET = b"TOP-SECRET-outside-the-volume\n"
ODD = [b".coverage.with spaces", b".coverage.new\nline", b".coverage.bad\xff\xfe\x80",
       b".coverage.\xc3\xbcnicode", b".coverage.tab\there"]


def populate(cov, c):
    datas = fake_run(cov, RUN)
    data = datas.encode()
    want = {}
    for i, n in enumerate(ODD):
        content = (b"coverage data %d " % i) * 50
        with open(os.path.join(data, n), "wb") as fh:
            fh.write(content)
        want[b"run-" + RUN.encode() + b"/" + n] = content
    os.symlink(c["secret"], os.path.join(datas, ".coverage.link"))
    os.mkfifo(os.path.join(datas, ".coverage.fifo"))
    os.symlink("/", os.path.join(cov, "escape"))  # a directory link: never entered
    return want


def check_delivery(c, label, dest, want, secret_path):
    seen, mans, probs = delivered_files(dest)
    c.check(not probs, f"{label}: bundles are well-formed, manifests match", "; ".join(probs))
    c.check(set(seen) == set(want),
            f"{label}: exactly the regular files were delivered, odd names byte for byte",
            f"got {sorted(seen)}")
    c.check(all(seen.get(k) == [v] for k, v in want.items()),
            f"{label}: each odd file once, content intact")
    everything = b"".join(d for v in seen.values() for d in v)
    c.check(SECRET not in everything, f"{label}: the symlink's target was not read")
    with open(secret_path, "rb") as fh:
        c.check(fh.read() == SECRET, f"{label}: the file outside the volume is untouched")


a = parse_args()
c = Checker("sidecar odd files")
with Scratch(a.keep) as s:
    secret = os.path.join(s.sub("outside"), "secret")
    with open(secret, "wb") as fh:
        fh.write(SECRET)
    ctx = {"secret": secret}

    # watch
    cov, dest, spool = s.sub("cov"), s.sub("dest"), os.path.join(s.path, "spool")
    want = populate(cov, ctx)
    w = Watch(a.covship, ["--dir", cov, "--dest", "file://" + dest, "--spool", spool,
                          "--drain-timeout", "10"], os.path.join(s.path, "watch.log"))
    s.cleanups.append(w.kill)
    fake_done(cov, RUN)
    wait_for(lambda: bundles(dest), 15)
    w.signal(15)
    rc = w.wait(20)
    log = w.log()
    c.check(rc == 0, "watch: drained and exited 0", f"rc={rc}")
    check_delivery(c, "watch", dest, want, secret)
    c.check("skipping run-%s/.coverage.link: symlink" % RUN in log and
            "skipping run-%s/.coverage.fifo: FIFO" % RUN in log,
            "watch: the link and the FIFO were skipped with a warning")
    data = os.path.join(cov, "run-" + RUN)
    c.check(os.path.islink(os.path.join(data, ".coverage.link")) and
            os.path.exists(os.path.join(data, ".coverage.fifo")),
            "watch: the skipped link and FIFO are left alone")
    c.check(not any(os.path.lexists(os.path.join(data, n.decode("utf-8", "surrogateescape")))
                    for n in ODD), "watch: delivered odd files were removed from the volume")
    c.check(not spool_leftovers(spool), "watch: nothing left in the spool", str(spool_leftovers(spool)))

    # push (same files again, fresh volume)
    cov2, dest2 = s.sub("cov2"), s.sub("dest2")
    want2 = populate(cov2, ctx)
    fake_done(cov2, RUN)
    r = subprocess.run([a.covship, "push", "--dir", cov2, "--dest", "file://" + dest2,
                        "--spool", os.path.join(s.path, "spool2")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    c.check(r.returncode == 0, "push: exit 0", r.stderr.decode(errors="replace"))
    check_delivery(c, "push", dest2, want2, secret)

    # control: the baseline follows the link into the secret
    base = os.path.join(s.sub("baseline"), "b.tar.gz")
    subprocess.run(["tar", "czhf", base, "-C", cov2, "run-" + RUN], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=30)
    import tarfile
    with tarfile.open(base) as t:
        leaked = any(m.isfile() and t.extractfile(m).read() == SECRET for m in t.getmembers())
    c.check(leaked, "control: tar czhf (the baseline) does read the secret through the link")
c.finish()
