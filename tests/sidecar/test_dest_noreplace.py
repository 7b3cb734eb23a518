#!/usr/bin/python3
"""Issue 11, test 5: a `file://` destination never replaces an object.

The destination already holds a DIFFERENT object at the key `covship push`
will use: the push exits 1, the coverage files stay in the volume byte for
byte, the object is unchanged (bytes, inode, mtime), no temporary is left
next to it, and one delivery error line names it with both SHA-256s. Then
the same key holding the SAME bytes as the spooled bundle (a delivery that
completed before a crash, as a copy): it counts as delivered, exit 0, the
sources are removed. Both with the destination on the spool's file system
(the bundle is hard-linked into place) and, where /dev/shm is another file
system, across file systems (the bundle is copied, then renamed with
RENAME_NOREPLACE).

The key is not hard-coded: a probe push from a copy of the same fresh spool
(same run id, same sequence number, same spool) shows where the bundle goes.

Control: what the old code did, a rename over the key, is flagged by the
same object check, so a replacement could not pass unnoticed."""
import hashlib
import os
import shutil
import tempfile

from sidecarlib import (Checker, Scratch, bundles, fake_done, fake_run, parse_args, run,
                        spool_leftovers, verify_exactly_once)

RUN = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
OTHER = b"an earlier, different bundle delivered under this key\n" * 40


def check(c, ok, what, detail=""):
    """c.check, with the detail shown only when the check fails."""
    return c.check(ok, what, "" if ok else detail)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


def populate(cov, tag):
    """Three coverage files of run RUN; {raw relpath: sha256}."""
    data = fake_run(cov, RUN)
    want = {}
    for i in range(3):
        name = f".coverage.host.{i}.{tag}"
        content = (f"coverage {tag} {i} ".encode()) * (100 + i)
        with open(os.path.join(data, name), "wb") as fh:
            fh.write(content)
        want[f"run-{RUN}/{name}".encode()] = sha(content)
    fake_done(cov, RUN)
    return want


def sources(cov):
    """{relpath: bytes} of the coverage files left in the volume."""
    out = {}
    for dp, dn, fn in os.walk(cov):
        dn[:] = [d for d in dn if d != ".covship"]
        for f in fn:
            p = os.path.join(dp, f)
            out[os.path.relpath(p, cov)] = read(p)
    return out


def obj_state(path):
    """What "unchanged" means for an object: its bytes, inode and mtime."""
    st = os.lstat(path)
    return (sha(read(path)), st.st_ino, st.st_mtime_ns, st.st_size)


def object_unchanged(path, before):
    try:
        return obj_state(path) == before
    except OSError:
        return False


def all_files(root):
    return sorted(os.path.relpath(os.path.join(dp, f), root)
                  for dp, dn, fn in os.walk(root) for f in fn)


def push(a, cov, dest, spool):
    return run(a.covship, ["push", "--dir", cov, "--dest", "file://" + dest,
                           "--spool", spool], timeout=60)


def fresh_spool(a, s, label):
    """A new spool, and the key a push of run RUN from it will use: pushed
    once from a copy of it (probe), then the copy thrown away."""
    spool = os.path.join(s.path, f"spool-{label}")
    empty = s.sub(f"empty-{label}")
    r = push(a, empty, s.sub(f"probe-none-{label}"), spool)  # creates the spool
    if r.returncode != 0:
        return spool, None, r.stderr.decode(errors="replace")
    probe_spool = spool + ".probe"
    shutil.copytree(spool, probe_spool, symlinks=True)
    probe_cov, probe_dest = s.sub(f"probe-cov-{label}"), s.sub(f"probe-dest-{label}")
    populate(probe_cov, "probe")
    r = push(a, probe_cov, probe_dest, probe_spool)
    got = bundles(probe_dest)
    if r.returncode != 0 or len(got) != 1:
        return spool, None, f"probe rc={r.returncode} bundles={got} " + \
            r.stderr.decode(errors="replace")
    return spool, os.path.relpath(got[0], probe_dest), ""


def spooled_bundle(spool):
    b = [f for f in spool_leftovers(spool) if f.endswith(".tar.gz")]
    return os.path.join(spool, b[0]) if len(b) == 1 else None


def round_(c, a, s, label, dest):
    spool, key, why = fresh_spool(a, s, label)
    if not check(c, key is not None, f"{label}: the key of the next push is known", why):
        return
    c.info(f"{label}: key {key}")
    obj = os.path.join(dest, key)

    # 1. a different object at the key
    os.makedirs(os.path.dirname(obj), exist_ok=True)
    with open(obj, "wb") as fh:
        fh.write(OTHER)
    before = obj_state(obj)
    cov = s.sub(f"cov-{label}")
    want = populate(cov, label)
    src_before = sources(cov)
    r = push(a, cov, dest, spool)
    err = r.stderr.decode(errors="replace")
    check(c, r.returncode == 1, f"{label}: push exits 1", f"rc={r.returncode}: {err}")
    check(c, sources(cov) == src_before,
            f"{label}: every coverage file is still in the volume, byte for byte")
    check(c, object_unchanged(obj, before),
            f"{label}: the object at the key is unchanged (bytes, inode, mtime)")
    check(c, all_files(dest) == [key], f"{label}: nothing else in the destination (no temporary)",
            str(all_files(dest)))
    bundle = spooled_bundle(spool)
    check(c, bundle is not None, f"{label}: the bundle stays in the spool",
            str(spool_leftovers(spool)))
    ours = sha(read(bundle)) if bundle else "?"
    naming = [ln for ln in err.splitlines() if obj in ln]
    deliv = [ln for ln in naming if "error: delivering" in ln]
    check(c, len(deliv) == 1, f"{label}: one delivery error line names the object",
            f"{len(deliv)} lines: {deliv}")
    check(c, len(deliv) == 1 and "already exists with other content" in deliv[0] and
            before[0] in deliv[0] and ours in deliv[0] and "refusing to replace" in deliv[0],
            f"{label}: the line gives both SHA-256s and the fix", deliv[0] if deliv else err)
    # push's closing line repeats the last error; nothing else mentions it
    check(c, all(ln in deliv or "bundle(s) left in the spool" in ln for ln in naming),
            f"{label}: no other line names the object", str(naming))

    # 2. the same bytes at the key: delivered before (a crash, a copy)
    if bundle:
        tmp = os.path.join(os.path.dirname(obj), ".test-copy")
        shutil.copyfile(bundle, tmp)
        os.rename(tmp, obj)
        same = obj_state(obj)
        r = push(a, cov, dest, spool)
        err = r.stderr.decode(errors="replace")
        check(c, r.returncode == 0, f"{label}: same bytes at the key: delivered, exit 0",
                f"rc={r.returncode}: {err}")
        check(c, not sources(cov), f"{label}: same bytes: the sources were removed",
                str(sorted(sources(cov))))
        check(c, object_unchanged(obj, same), f"{label}: same bytes: the object is left as is")
        ok, detail = verify_exactly_once(dest, want)
        check(c, ok, f"{label}: same bytes: the object holds every file once, intact", detail)
        check(c, not spool_leftovers(spool), f"{label}: same bytes: the spool is empty",
                str(spool_leftovers(spool)))
        check(c, all_files(dest) == [key], f"{label}: same bytes: no temporary left",
                str(all_files(dest)))


a = parse_args()
c = Checker("sidecar file:// never replaces")
with Scratch(a.keep) as s:
    round_(c, a, s, "linked", s.sub("dest"))

    # across file systems the bundle is copied (the other publishing path)
    shm = "/dev/shm"
    if (os.path.isdir(shm) and os.access(shm, os.W_OK) and
            os.stat(shm).st_dev != os.stat(s.path).st_dev):
        other = tempfile.mkdtemp(prefix="covship-noreplace.", dir=shm)
        s.cleanups.append(lambda: shutil.rmtree(other, ignore_errors=True))
        round_(c, a, s, "copied", other)
    else:
        c.info("no /dev/shm on another file system: the copy round is skipped")

    # control: the old code renamed its temporary over the key; the same check
    # flags that, so a replacement cannot pass as "unchanged"
    ctl = s.sub("control")
    obj = os.path.join(ctl, "key.tar.gz")
    with open(obj, "wb") as fh:
        fh.write(OTHER)
    before = obj_state(obj)
    tmp = os.path.join(ctl, ".key.tar.gz.tmp.1")
    with open(tmp, "wb") as fh:
        fh.write(b"the new bundle\n")
    os.rename(tmp, obj)
    c.check(not object_unchanged(obj, before),
            "control: a rename over the key (the old code) is flagged as a change")
    before = obj_state(obj)
    with open(obj, "r+b") as fh:  # same inode, same size and mtime, other bytes
        fh.write(b"X")
    os.utime(obj, ns=(before[2], before[2]))
    c.check(not object_unchanged(obj, before),
            "control: other bytes in the same inode with the same mtime are flagged too")
c.finish()
