#!/usr/bin/python3
"""Plans bound to their origin (issue 11, test 3, file://; the S3 variant
is tests/lib/s3/test_s3_plan_binding.py). A plan records its destination
and its directory (absolute path and identity).

1. `push --dir A --dest file://X` fails for good (a file in the way of the
   key's directory): the plan stays in spool S, A's file stays.
2. `push --dir B --dest file://Y --spool S` while X still fails: exit 1,
   one line naming X; Y holds only B's file; A's file is still in A.
3. The obstacle removed, the same push again: A's bundle arrives under X,
   and only then is A's file removed; Y unchanged; S without plans.
4. A plan whose directory was replaced (same path, another directory):
   never delivered, its new namesake never bundled nor removed (exit 1,
   one line); with the original directory back, it is delivered.
5. A plan of an older covship (no origin): delivered to this run's
   destination, as that version did, with one warning.

Control: foreign_files() flags A's file among Y's (a copy of X's bundle
put under Y)."""
import hashlib
import json
import os
import shutil

from sidecarlib import (Checker, Scratch, bundles, delivered_files, fake_done, fake_run,
                        parse_args, run, spool_leftovers, verify_exactly_once)


def foreign_files(dest, own):
    """Files in dest's bundles that are not among own (raw paths): another
    origin's coverage delivered here."""
    seen = delivered_files(dest)[0]
    return sorted(p for p in seen if p not in own)


def make(s, name, run_id, fname):
    cov = s.sub(name)
    data = fake_run(cov, run_id)
    fake_done(cov, run_id)
    body = os.urandom(2000) + fname.encode()
    with open(os.path.join(data, fname), "wb") as fh:
        fh.write(body)
    return cov, {f"run-{run_id}/{fname}".encode(): hashlib.sha256(body).hexdigest()}


def push(a, cov, dest, spool):
    r = run(a.covship, ["push", "--dir", cov, "--dest", "file://" + dest, "--spool", spool],
            timeout=60)
    return r.returncode, r.stderr.decode(errors="replace")


def plans(spool):
    return [f for f in spool_leftovers(spool) if f.endswith(".plan.json")]


def sources(cov):
    return sorted(f for _, _, fs in os.walk(cov) for f in fs if f.startswith(".coverage"))


RA, RB, RC, RL = ("a" * 32, "b" * 32, "c" * 32, "d" * 32)
a = parse_args()
c = Checker("sidecar plans bound to their destination and directory")
with Scratch(a.keep) as s:
    spool = os.path.join(s.path, "spool")
    ca, oa = make(s, "A", RA, ".coverage.a.1.1")
    cb, ob = make(s, "B", RB, ".coverage.b.1.1")
    x, y = s.sub("X"), s.sub("Y")
    with open(os.path.join(x, RA), "w") as fh:  # in the way of X/<run>/...
        fh.write("obstacle")

    # 1. X fails for good
    rc, log = push(a, ca, x, spool)
    c.check(rc == 1 and len(plans(spool)) == 1 and sources(ca) == [".coverage.a.1.1"],
            "push --dir A --dest X fails: exit 1, the plan in S, A's file kept", log[-200:])
    with open(os.path.join(spool, plans(spool)[0])) as fh:
        org = json.load(fh).get("origin", {})
    c.check(org.get("dest") == "file://" + x and org.get("path") == os.path.realpath(ca) and
            int(org.get("ino", 0)) == os.stat(ca).st_ino,
            "the plan records its destination and its directory (path, identity)", str(org))

    # 2. another --dir/--dest while X still fails
    rc, log = push(a, cb, y, spool)
    lines = [ln for ln in log.splitlines() if "wait in the spool for their own destination" in ln]
    c.check(rc == 1 and len(lines) == 1 and "file://" + x in lines[0] and ca in lines[0],
            "push --dir B --dest Y: exit 1, one line naming X (and A)", lines[0] if lines else log[-300:])
    c.check(verify_exactly_once(y, ob)[0] and not foreign_files(y, ob),
            "Y holds B's file only", str(foreign_files(y, ob)))
    c.check(sources(ca) == [".coverage.a.1.1"] and len(plans(spool)) == 1,
            "A's file and its plan kept while X has not confirmed it")

    # 3. X works again: A's bundle goes to X, from the same spool
    os.unlink(os.path.join(x, RA))
    rc, log = push(a, cb, y, spool)
    c.check(rc == 0 and verify_exactly_once(x, oa)[0],
            "X reachable again: A's bundle arrives under X, exit 0", log[-300:])
    c.check(sources(ca) == [] and plans(spool) == [] and verify_exactly_once(y, ob)[0],
            "A's file removed after X confirmed it; Y unchanged; no plan left")
    # control: the checker catches another origin's data under Y
    ctl = s.sub("control-Y")
    shutil.copytree(y, ctl, dirs_exist_ok=True)
    shutil.copy(bundles(x)[0], os.path.join(ctl, "from-x.tar.gz"))
    c.check(foreign_files(ctl, ob) == list(oa),
            "control: foreign_files() flags A's file under Y", str(foreign_files(ctl, ob)))

    # 4. the plan's directory replaced by another one under the same path
    cc, oc = make(s, "C", RC, ".coverage.c.1.1")
    x2 = s.sub("X2")
    with open(os.path.join(x2, RC), "w") as fh:
        fh.write("obstacle")
    rc1, _ = push(a, cc, x2, spool)
    os.rename(cc, cc + ".away")
    cc_new, _ = make(s, "C", RC, ".coverage.c.1.1")  # same path and name, another directory
    os.unlink(os.path.join(x2, RC))
    rc, log = push(a, cb, y, spool)
    lines = [ln for ln in log.splitlines() if "wait in the spool" in ln]
    c.check(rc1 == 1 and rc == 1 and len(lines) == 1 and "identity" in lines[0] and
            bundles(x2) == [] and sources(cc_new) == [".coverage.c.1.1"],
            "directory replaced: not delivered, the new one's file neither bundled nor removed",
            lines[0] if lines else log[-300:])
    shutil.rmtree(cc_new)
    os.rename(cc + ".away", cc)
    rc, log = push(a, cb, y, spool)
    c.check(rc == 0 and verify_exactly_once(x2, oc)[0] and sources(cc) == [] and
            plans(spool) == [], "the original directory back: delivered to X2, source removed",
            log[-300:])

    # 5. a plan of an older covship (no origin): this run's destination, a warning
    cl, ol = make(s, "L", RL, ".coverage.l.1.1")
    z, w = s.sub("Z"), s.sub("W")
    with open(os.path.join(z, RL), "w") as fh:
        fh.write("obstacle")
    push(a, cl, z, spool)
    p = os.path.join(spool, plans(spool)[0])
    with open(p) as fh:
        plan = json.load(fh)
    del plan["origin"]
    with open(p, "w") as fh:
        json.dump(plan, fh)
    rc, log = push(a, cl, w, spool)
    c.check(rc == 0 and verify_exactly_once(w, ol)[0] and sources(cl) == [] and
            log.count("older covship") == 1,
            "an older covship's plan (no origin): to this run's destination, one warning",
            log[-300:])
c.finish()
