#!/usr/bin/python3
"""Compress ahead (staging, sidecar/stage.h): coverage files closed before
done.json are compressed while the watcher waits; the bundle is then their
gzip members / zstd frames, concatenated, followed by one last member (the
files not staged, the manifest, the end of the archive).

1. A staged bundle (gzip and zstd) extracts with covship pull, GNU tar and
   Python tarfile to exactly the source bytes, the manifest's SHA-256s
   match, and it really is several members (the stage was used: the debug
   log says so and the member count is files + 1). A push bundle (no
   stage) is one member.
2. A file rewritten after it was staged, keeping its size, inode and mtime
   (written through a hard link outside the watched tree, so the watcher
   sees no close, then os.utime back): the bundle holds the new bytes, the
   re-hash said so in the log.
   Control: with the test-only switch COVSHIP_TEST_STAGE_NO_REHASH=1
   (identity alone trusted) the same scenario ships the stale bytes, so the
   re-hash is what catches it.
"""
import gzip
import hashlib
import io
import os
import shutil
import signal
import subprocess
import tarfile
import time
import zlib

from sidecarlib import (Checker, Scratch, Watch, bundles, clean_env, fake_done, fake_run,
                        parse_args, read_bundle, run, wait_for)

RUN = "5a9e05a9e05a9e05a9e05a9e05a9e05a"
LONG = "d" * 120  # a path over 100 bytes: the member holds a pax extended header
STAGED_NAMES = range(8)  # make_files writes 8 files


def gzip_members(path):
    """Number of gzip members in the file (each one a complete gzip)."""
    with open(path, "rb") as fh:
        data = fh.read()
    n = 0
    while data:
        d = zlib.decompressobj(wbits=31)
        d.decompress(data)
        if not d.eof:
            return -1
        n += 1
        data = d.unused_data
    return n


def zstd_frames(path):
    """Frames, counted by decompressing the file cut after each frame."""
    out = subprocess.run(["zstd", "-lv", path], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT).stdout.decode(errors="replace")
    for line in out.splitlines():
        if line.strip().startswith("# Zstandard Frames:"):
            return int(line.split(":")[1])
    return -1


def make_files(data, tag):
    """Coverage-like files (half random, half zeros) plus odd names."""
    files = {}
    names = [f".coverage.h.{tag}.{i}" for i in range(6)]
    names += [f"{LONG}/.coverage.long.{tag}", f".coverage.sp ace\udcff.{tag}"]
    for n in names:
        body = os.urandom(20000) + bytes(20000) + n.encode("utf-8", "surrogateescape")
        p = os.path.join(data, n)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p.encode("utf-8", "surrogateescape"), "wb") as fh:
            fh.write(body)
        files[os.path.relpath(p, os.path.dirname(data)).encode("utf-8", "surrogateescape")] = body
    return files


def watch_until_delivered(a, s, name, extra, env=None, before_done=None, nfiles=0):
    """Start a watcher on a volume whose files exist, wait until it staged
    nfiles, run before_done, write done.json, wait for the drain.
    Returns (dest, log text, rc, originals-at-start)."""
    cov, dest = s.sub(name + "-cov"), s.sub(name + "-dest")
    spool = os.path.join(s.path, name + "-spool")
    data = fake_run(cov, RUN)
    files = make_files(data, name)
    # one process from start to drain (no hand-off to covship-idle), so that
    # an ASan build checks the staging and bundling memory at exit
    env = dict(env or clean_env(), COVSHIP_NO_IDLE_EXEC="1")
    w = Watch(a.covship, ["--dir", cov, "--dest", "file://" + dest, "--spool", spool,
                          "--log-level", "debug", "--drain-timeout", "20"] + extra,
              os.path.join(s.path, name + ".log"), env=env)
    s.cleanups.append(w.kill)
    staged = wait_for(lambda: w.log().count("debug: staged ") >= (nfiles or len(files)), 20)
    if before_done:
        before_done(cov)
    fake_done(cov, RUN)
    wait_for(lambda: bundles(dest), 20)
    w.signal(signal.SIGTERM)
    rc = w.wait(30)
    w.kill()
    return dest, w.log(), rc, files, staged, spool


def extract_tar(bundle, out, zstd):
    os.makedirs(out, exist_ok=True)
    argv = ["tar", "--zstd" if zstd else "-z", "-xf", bundle, "-C", out]
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def tree_bytes(root):
    out = {}
    for dp, dn, fn in os.walk(root.encode()):
        for f in fn:
            p = os.path.join(dp, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root.encode())] = fh.read()
    return out


def check_staged_bundle(c, a, s, comp):
    zstd = comp == "zstd"
    dest, log, rc, files, staged, spool = watch_until_delivered(
        a, s, "ok-" + comp, ["--compression", comp])
    c.check(staged, f"{comp}: every file staged before done.json", log[-400:])
    c.info(f"{comp}: watcher exit status after SIGTERM: {rc}")
    c.check("Sanitizer" not in log, f"{comp}: no sanitizer report (ASan builds)",
            log[log.find("Sanitizer") - 200:][:600])
    bs = bundles(dest)
    c.check(len(bs) == 1, f"{comp}: one bundle delivered", str(bs))
    if not bs:
        return
    b = bs[0]
    c.check(f"{len(files)} of {len(files)} files staged, the stage log becomes the bundle" in log,
            f"{comp}: the debug log says the staged members were used (whole log)")
    parts = zstd_frames(b) if zstd else gzip_members(b)
    c.check(parts == len(files) + 1, f"{comp}: {len(files)} staged members + the last one",
            f"found {parts}")
    # Python tarfile (through the zstd CLI for .tar.zst), manifest SHA-256s
    entries, man, probs = read_bundle(b)
    c.check(not probs and entries == files,
            f"{comp}: Python tarfile reads exactly the source bytes; manifest SHA-256s match",
            "; ".join(probs[:3]) + f" got {sorted(entries)[:3]}")
    # GNU tar
    r = extract_tar(b, os.path.join(s.path, comp + "-tar"), zstd)
    got = tree_bytes(os.path.join(s.path, comp + "-tar"))
    got.pop(b"covship-manifest.json", None)
    c.check(r.returncode == 0 and got == files,
            f"{comp}: GNU tar extracts exactly the source bytes",
            r.stderr.decode(errors="replace")[-300:])
    # covship pull (libarchive), which verifies against the manifest itself
    out = os.path.join(s.path, comp + "-pull")
    r = run(a.covship, ["pull", "file://" + dest, "--out", out])
    got = {}
    for k, v in tree_bytes(out).items():
        parts_ = k.split(b"/", 2)
        if len(parts_) == 3 and parts_[2] != b"covship-manifest.json":
            got[parts_[2]] = v
    c.check(r.returncode == 0 and got == files,
            f"{comp}: covship pull extracts exactly the source bytes",
            r.stderr.decode(errors="replace")[-300:])
    stage = os.path.join(spool, "stage")
    left = os.listdir(stage) if os.path.isdir(stage) else []
    c.check(not left, f"{comp}: nothing left in SPOOL/stage", str(left))


def check_push_single_member(c, a, s):
    cov, dest = s.sub("push-cov"), s.sub("push-dest")
    make_files(s.sub("push-cov/run-x"), "push")
    r = run(a.covship, ["push", "--dir", cov, "--dest", "file://" + dest, "--spool",
                        os.path.join(s.path, "push-spool")])
    bs = bundles(dest)
    c.check(r.returncode == 0 and len(bs) == 1 and gzip_members(bs[0]) == 1,
            "push (nothing staged): one gzip member, as before staging",
            f"rc {r.returncode} members {gzip_members(bs[0]) if bs else None}")


def rewrite_same_identity(cov, victim, outside):
    """New bytes, same size, inode and mtime, and no event for the watcher:
    written through a hard link in a directory it does not watch."""
    p = os.path.join(cov, victim)
    st = os.stat(p)
    link = os.path.join(outside, "victim")
    os.link(p, link)
    with open(link, "r+b") as fh:
        fh.write(b"NEW!" * 1000)
    os.utime(link, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.unlink(link)
    st2 = os.stat(p)
    assert (st2.st_size, st2.st_ino, st2.st_mtime_ns) == (st.st_size, st.st_ino, st.st_mtime_ns)
    with open(p, "rb") as fh:
        return fh.read()


def check_rehash(c, a, s, name, env):
    victim = f"run-{RUN}/.coverage.h.{name}.2"
    outside = s.sub(name + "-outside")
    newbody = {}

    def before(cov):
        newbody["b"] = rewrite_same_identity(cov, victim, outside)

    dest, log, rc, files, staged, _ = watch_until_delivered(a, s, name, [], env=env,
                                                            before_done=before)
    bs = bundles(dest)
    entries = read_bundle(bs[0])[0] if bs else {}
    shipped = entries.get(victim.encode())
    man = read_bundle(bs[0])[1] if bs else {}
    sha = {f.get("path"): f["sha256"] for f in man.get("files", [])}.get(victim)
    return staged, shipped, newbody.get("b"), files[victim.encode()], log, sha


a = parse_args()
c = Checker("sidecar staging (compress ahead)")
with Scratch(a.keep) as s:
    check_staged_bundle(c, a, s, "gzip")
    check_staged_bundle(c, a, s, "zstd")
    check_push_single_member(c, a, s)
    staged, shipped, new, old, log, sha = check_rehash(c, a, s, "rehash", clean_env())
    c.check(staged and new is not None and new != old, "rehash: file staged, then rewritten with "
            "the same size, inode and mtime")
    c.check(shipped == new and sha == hashlib.sha256(new).hexdigest(),
            "rehash: the bundle holds the NEW bytes, the manifest their SHA-256",
            f"shipped {'old' if shipped == old else 'other'}")
    c.check("changed since it was staged" in log,
            "rehash: the log says the staged member was stale")
    c.check(f"{len(STAGED_NAMES) - 1} of {len(STAGED_NAMES)} files staged, members copied" in log,
            "rehash: the other staged members were copied into the bundle")
    c.check("Sanitizer" not in log, "rehash: no sanitizer report (ASan builds)")
    # control: the identity alone would have shipped the stale member
    staged, shipped, new, old, log, sha = check_rehash(
        c, a, s, "norehash", clean_env(COVSHIP_TEST_STAGE_NO_REHASH="1"))
    c.check(staged and shipped == old and new != old,
            "control: without the re-hash (COVSHIP_TEST_STAGE_NO_REHASH=1) the stale bytes ship",
            f"shipped {'new' if shipped == new else 'other'}")
c.finish()
