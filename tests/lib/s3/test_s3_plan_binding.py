#!/usr/bin/python3
"""Issue 11 against the fixture's radosgw: keys no two spools share (test 2)
and plans bound to their origin (test 3). Usage:
test_s3_plan_binding.py COVSHIP ENVFILE

Two spools: `push --spool A`, then `push --spool B`, same volume, same run,
one new worker file each: two keys ({run_id}/{run_id}-{spool_id}-{seq}),
both objects intact. Control: a spool given A's id (spool-id copied) makes
A's key again: key_collisions() flags it and S3 refuses the bundle
(If-None-Match): it is stuck, its file kept.

Plan binding: `push --dir A --dest s3://b/X/` with a wrong secret leaves a
plan in spool S; `push --dir B --dest s3://b/Y/ --spool S` with the right
secret delivers A's bundle under X (and only then removes A's file), B's
under Y, and Y holds B's files only. With X unreachable (a bucket that does
not exist) the plan stays in the spool, one line names X, push exits 1,
and A's file stays. Control: foreign_keys() flags X's data in a synthetic
listing of Y."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "sidecar"))
import s3helpers as h  # noqa: E402
from sidecarlib import (delivered_keys, fake_done, fake_run, key_collisions,  # noqa: E402
                        read_bundle)

COVSHIP, ENV = sys.argv[1], h.load_env(sys.argv[2])
B = ENV["COVSHIP_TEST_BUCKET"]
FAST = {"COVSHIP_S3_RETRY_BASE_MS": 20, "COVSHIP_S3_RETRY_CAP_MS": 200,
        "COVSHIP_S3_TIMEOUT_S": 2, "COVSHIP_S3_MAX_ATTEMPTS": 2}
c = h.Checks()
s3 = h.botocore_client(ENV)


def push(cov, url, spool, secret=None):
    env = h.child_env(ENV, **FAST)
    if secret:
        env["AWS_SECRET_ACCESS_KEY"] = secret
    r = subprocess.run([COVSHIP, "push", "--dir", cov, "--dest", url, "--spool", spool],
                       env=env, capture_output=True, timeout=120)
    return r.returncode, r.stderr.decode(errors="replace")


def listing(prefix):
    out = s3.list_objects_v2(Bucket=B, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in out)


def files_under(prefix):
    """{archive path: bytes} over every bundle under prefix."""
    got = {}
    for k in listing(prefix):
        body = s3.get_object(Bucket=B, Key=k)["Body"].read()
        with tempfile.NamedTemporaryFile(suffix=".tar.gz") as f:
            f.write(body)
            f.flush()
            entries, _, probs = read_bundle(f.name)
        c.check(not probs, "%s reads back, manifest matches (%s)" % (k, probs))
        got.update({p.decode(): d for p, d in entries.items()})
    return got


def foreign_keys(files, own):
    """Archive paths under a prefix that are not the prefix's own sources:
    another origin's coverage delivered there."""
    return sorted(p for p in files if p not in own)


def worker(cov, run_id, name):
    data = os.path.join(cov, "run-" + run_id)
    body = os.urandom(5000) + name.encode()
    with open(os.path.join(data, name), "wb") as f:
        f.write(body)
    return {"run-%s/%s" % (run_id, name): body}


def volume(tmp, name, run_id):
    cov = os.path.join(tmp, name)
    os.mkdir(cov)
    fake_run(cov, run_id)
    fake_done(cov, run_id)
    return cov


def sources(cov):
    return sorted(f for _, _, fs in os.walk(cov) for f in fs if f.startswith(".coverage"))


def plans(spool):
    return [f for f in os.listdir(spool) if f.endswith(".plan.json")] if os.path.isdir(spool) else []


def two_spools(tmp):
    run_id = "2500015b0015b0015b0015b0015b0015"
    pre = h.unique_prefix("two-spools")
    url = "s3://%s/%s" % (B, pre)
    cov = volume(tmp, "two-cov", run_id)
    sa, sb = os.path.join(tmp, "spool-a"), os.path.join(tmp, "spool-b")
    want = worker(cov, run_id, ".coverage.h.1.111")
    rc_a, log_a = push(cov, url, sa)
    want.update(worker(cov, run_id, ".coverage.h.2.222"))
    rc_b, log_b = push(cov, url, sb)
    ka, kb = delivered_keys(log_a), delivered_keys(log_b)
    c.check(rc_a == 0 and rc_b == 0, "two spools: push A, push B: exit 0 both (%s)" % log_b[-200:])
    c.check(len(ka) == 1 and len(kb) == 1 and not key_collisions(ka, kb),
            "two spools: two different keys (%s %s)" % (ka, kb))
    c.check(listing(pre) == sorted(pre + k for k in ka + kb),
            "two spools: both objects in the bucket (%s)" % listing(pre))
    got = files_under(pre)
    c.check(got == want, "two spools: both worker files intact, one each (%s)" % sorted(got))
    # control: a spool with A's id repeats A's key; S3 refuses it (412 + other content)
    sc = os.path.join(tmp, "spool-c")
    os.makedirs(sc, mode=0o700)
    shutil.copy(os.path.join(sa, "spool-id"), os.path.join(sc, "spool-id"))
    extra = worker(cov, run_id, ".coverage.h.3.333")
    rc_c, log_c = push(cov, url, sc)
    kc = re.findall(r"delivering \S+ as (\S+):", log_c)
    c.check(key_collisions(ka, kc) == ka,
            "control: the same spool id gives A's key again; the checker flags it (%s)" % kc)
    c.check(rc_c == 1 and "other content" in log_c and sources(cov) == sorted(
        os.path.basename(p) for p in extra) and files_under(pre) == want,
            "control: S3 refuses the colliding bundle: stuck in the spool, its file kept, "
            "A's object unchanged (exit %d)" % rc_c)


def binding(tmp):
    ra, rb = "a" * 32, "b" * 32
    base = h.unique_prefix("binding")
    x, y = "s3://%s/%sX/" % (B, base), "s3://%s/%sY/" % (B, base)
    spool = os.path.join(tmp, "bind-spool")
    ca, cb = volume(tmp, "A", ra), volume(tmp, "B", rb)
    own_a, own_b = worker(ca, ra, ".coverage.a.1.1"), worker(cb, rb, ".coverage.b.1.1")
    wrong = "wrong" + ENV["AWS_SECRET_ACCESS_KEY"]
    rc, log = push(ca, x, spool, secret=wrong)
    c.check(rc == 1 and len(plans(spool)) == 1 and sources(ca) == [".coverage.a.1.1"] and
            listing(base) == [], "binding: push A -> X with a wrong secret: exit 1, plan "
            "spooled, A's file kept, nothing stored (%s)" % log[-200:])
    rc, log = push(cb, y, spool)
    c.check(rc == 0, "binding: push B -> Y, right secret, same spool: exit 0 (%s)" % log[-300:])
    gx, gy = files_under(base + "X/"), files_under(base + "Y/")
    c.check(gx == own_a, "binding: A's bundle arrived under X (%s)" % sorted(gx))
    c.check(gy == own_b and not foreign_keys(gy, own_b),
            "binding: Y holds B's files only (%s)" % sorted(gy))
    c.check(sources(ca) == [] and sources(cb) == [] and plans(spool) == [],
            "binding: A's file removed once X confirmed it; no plan left")

    # X unreachable: a bucket that does not exist
    ra2, rb2 = "e" * 32, "f" * 32
    nx = "s3://covship-no-such-bucket-%s/X/" % base.strip("/").lower()
    y2 = "s3://%s/%sY2/" % (B, base)
    spool2 = os.path.join(tmp, "bind-spool2")
    ca2, cb2 = volume(tmp, "A2", ra2), volume(tmp, "B2", rb2)
    worker(ca2, ra2, ".coverage.a.2.2")
    own_b2 = worker(cb2, rb2, ".coverage.b.2.2")
    rc1, _ = push(ca2, nx, spool2)
    rc, log = push(cb2, y2, spool2)
    lines = [ln for ln in log.splitlines() if "wait in the spool for their own destination" in ln]
    c.check(rc1 == 1 and rc == 1 and len(lines) == 1 and nx in lines[0],
            "unreachable X: exit 1, one line naming X (%s)" % (lines[0] if lines else log[-300:]))
    gy2 = files_under(base + "Y2/")
    c.check(gy2 == own_b2, "unreachable X: Y holds B's files only (%s)" % sorted(gy2))
    c.check(len(plans(spool2)) == 1 and sources(ca2) == [".coverage.a.2.2"],
            "unreachable X: the plan stays in the spool, A's file stays")

    # control: the checker catches X's data under Y (synthetic listing)
    synthetic = dict(gy)
    synthetic.update(own_a)
    c.check(foreign_keys(synthetic, own_b) == sorted(own_a),
            "control: foreign_keys() flags A's file in a listing of Y")


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="s3bind.")
    try:
        two_spools(tmp)
        binding(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.exit()
