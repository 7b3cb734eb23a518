#!/usr/bin/python3
"""Two spools, one volume, one run (issue 11, test 2, file://): `push
--spool A`, then `push --spool B`, each with one new worker file and the
run's done.json. Each spool has its own random id (SPOOL/spool-id), and
bundle names and default keys carry it ({run_id}/{run_id}-{spool_id}-{seq}):
both bundles arrive, intact, under two different keys, although both spools
number their first bundle 1. `covship pull` takes the new names and the
older {run_id}-{seq} ones side by side.

Control: a spool given A's id (its spool-id file copied, as a copied spool
would be) makes the same key as A again: key_collisions() flags it, and the
destination either refused the second bundle or lost the first one."""
import hashlib
import os
import re
import shutil

from sidecarlib import (Checker, Scratch, bundles, delivered_keys, fake_done, fake_run,
                        key_collisions, parse_args, run, verify_exactly_once)

RUN = "5b0015b0015b0015b0015b0015b0015b"


def worker_file(data, name):
    body = os.urandom(3000) + name.encode()
    with open(os.path.join(data, name), "wb") as fh:
        fh.write(body)
    return f"run-{RUN}/{name}".encode(), hashlib.sha256(body).hexdigest()


def push(a, cov, dest, spool):
    r = run(a.covship, ["push", "--dir", cov, "--dest", "file://" + dest, "--spool", spool],
            timeout=60)
    return r.returncode, r.stderr.decode(errors="replace")


def spool_id(spool):
    with open(os.path.join(spool, "spool-id")) as fh:
        return fh.read().strip()


a = parse_args()
c = Checker("sidecar two spools, one volume, one run")
with Scratch(a.keep) as s:
    cov, dest = s.sub("cov"), s.sub("dest")
    sa, sb = os.path.join(s.path, "spool-a"), os.path.join(s.path, "spool-b")
    data = fake_run(cov, RUN)
    fake_done(cov, RUN)
    originals = dict([worker_file(data, ".coverage.h.1.111")])
    rc_a, log_a = push(a, cov, dest, sa)
    originals.update([worker_file(data, ".coverage.h.2.222")])
    rc_b, log_b = push(a, cov, dest, sb)
    keys_a, keys_b = delivered_keys(log_a), delivered_keys(log_b)
    c.check(rc_a == 0 and rc_b == 0, "push with spool A, then with spool B: exit 0 both",
            f"{rc_a} {rc_b} {log_b[-200:] if rc_b else ''}")
    ida, idb = spool_id(sa), spool_id(sb)
    c.check(re.fullmatch(r"[0-9a-f]{16}", ida) and re.fullmatch(r"[0-9a-f]{16}", idb) and
            ida != idb, "each spool has its own random id (spool-id, 16 hex digits)",
            f"{ida} {idb}")
    c.check(keys_a == [f"{RUN}/{RUN}-{ida}-000001.tar.gz"] and
            keys_b == [f"{RUN}/{RUN}-{idb}-000001.tar.gz"],
            "default keys {run_id}/{run_id}-{spool_id}-{seq}.tar.gz: seq 1 in both spools",
            f"{keys_a} {keys_b}")
    c.check(not key_collisions(keys_a, keys_b), "two different keys", f"{keys_a} {keys_b}")
    ok, detail = verify_exactly_once(dest, originals)
    c.check(ok and len(bundles(dest)) == 2,
            "both worker files arrived intact, each exactly once, in two bundles", detail)

    # pull takes both names: one bundle renamed to the older {run_id}-{seq}
    both = s.sub("both")
    shutil.copytree(dest, both, dirs_exist_ok=True)
    old = os.path.join(both, RUN, f"{RUN}-000001.tar.gz")
    os.rename(os.path.join(both, RUN, f"{RUN}-{ida}-000001.tar.gz"), old)
    out = os.path.join(s.path, "pulled")
    r = run(a.covship, ["pull", "file://" + both, "--out", out], timeout=60)
    got = sorted(os.path.relpath(os.path.join(dp, f), out) for dp, _, fs in os.walk(out)
                 for f in fs if f.startswith(".coverage"))
    c.check(r.returncode == 0 and got == sorted([
        f"{RUN}/{RUN}-000001/run-{RUN}/.coverage.h.1.111",
        f"{RUN}/{RUN}-{idb}-000001/run-{RUN}/.coverage.h.2.222"]),
        "pull: an old-name and a new-name bundle side by side, both extracted",
        f"{r.returncode} {got} {r.stderr.decode(errors='replace')[-200:] if r.returncode else ''}")

    # control: spool C given A's id (a copied spool) repeats A's key
    cdest = s.sub("control-dest")
    sa2, sc = os.path.join(s.path, "spool-a2"), os.path.join(s.path, "spool-c")
    ccov = s.sub("control-cov")
    cdata = fake_run(ccov, RUN)
    fake_done(ccov, RUN)
    corig = dict([worker_file(cdata, ".coverage.h.3.333")])
    rc1, log1 = push(a, ccov, cdest, sa2)
    os.makedirs(sc, mode=0o700)
    shutil.copy(os.path.join(sa2, "spool-id"), os.path.join(sc, "spool-id"))
    corig.update([worker_file(cdata, ".coverage.h.4.444")])
    rc2, log2 = push(a, ccov, cdest, sc)
    dup = key_collisions(delivered_keys(log1), delivered_keys(log2) or
                         re.findall(r"delivering \S+ as (\S+):", log2))
    c.check(rc1 == 0 and dup == [f"{RUN}/{RUN}-{spool_id(sa2)}-000001.tar.gz"],
            "control: the same spool id gives the same key again; the checker flags it",
            str(dup))
    c.check(rc2 != 0 or not verify_exactly_once(cdest, corig)[0],
            "control: the collision is harmful: the second bundle refused or the first lost",
            f"exit {rc2}")
c.finish()
