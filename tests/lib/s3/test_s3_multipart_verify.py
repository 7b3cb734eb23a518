#!/usr/bin/python3
"""Multipart verifies what it sends (issue 11, test 4), against radosgw.

An object must never be stored with an x-amz-meta-covship-sha256 that does
not match its bytes, and a damaged spooled bundle must never be delivered.
`check_object` is the checker: the body's SHA-256 equals the metadata, and
the body is a bundle whose members match its manifest (and, where given,
the coverage files it was made of).

- s3tool deliver (dest_deliver) of a multipart-size file with a stale
  SHA-256: DEST_CORRUPT, the upload aborted (no Complete), no object, no
  upload left open, no resume state; the single PutObject refuses the same
  before sending anything.
- Resume: an interrupted upload whose first part went out damaged, then the
  file repaired: the resumed part is read again, differs, and the upload
  starts afresh: the object is the repaired file.
- `covship push` (gzip): a bundle left in the spool by a refused push (wrong
  secret), one byte flipped, then pushed with the right secret: the damage
  is found before Complete, the bundle is built again from its unchanged
  sources and delivered intact; spool and sources empty.
- `covship push` (zstd, with the run's done.json): the same, but a source
  was rewritten meanwhile: one clear error line naming the bundle and why,
  exit 1, nothing stored from the damaged bytes; the plan's key gets the
  marker alone, the sources (kept) go into a new bundle, byte for byte.
- Control: the checker flags what the code before this change stored: the
  damaged bytes with the recorded SHA-256 (multipart trusting the plan), and
  the damaged bytes with their own SHA-256 (a spooled bundle hashed as it
  is). The same test run with that code's binaries fails.

Usage: test_s3_multipart_verify.py S3TOOL ENVFILE COVSHIP"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3helpers as h  # noqa: E402

S3TOOL, ENV, COVSHIP = sys.argv[1], h.load_env(sys.argv[2]), sys.argv[3]
B = ENV["COVSHIP_TEST_BUCKET"]
MiB = 1 << 20
FAST = {"COVSHIP_S3_RETRY_BASE_MS": 20, "COVSHIP_S3_RETRY_CAP_MS": 200,
        "COVSHIP_S3_TIMEOUT_S": 5, "COVSHIP_S3_MAX_ATTEMPTS": 3,
        "COVSHIP_S3_MULTIPART_THRESHOLD": 5 * MiB, "COVSHIP_S3_PART_SIZE": 5 * MiB}
RUN = "0123456789abcdef0123456789abcdef"
c = h.Checks()
s3 = h.botocore_client(ENV)


def count(log, method, query=None, status=None):
    return sum(1 for e in log if e["method"] == method and
               (query is None or query in e["query"]) and
               (status is None or e.get("status") == status))


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


def exists(key):
    try:
        s3.head_object(Bucket=B, Key=key)
        return True
    except s3.exceptions.ClientError:
        return False


def open_uploads(prefix):
    return s3.list_multipart_uploads(Bucket=B, Prefix=prefix).get("Uploads", [])


def members(body, key):
    """{name: bytes} of a bundle (gzip or zstd tar)."""
    if key.endswith(".tar.zst"):
        body = subprocess.run(["zstd", "-dcq"], input=body, capture_output=True,
                              check=True).stdout
        mode = "r:"
    else:
        mode = "r:gz"
    with tarfile.open(fileobj=io.BytesIO(body), mode=mode) as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}


def check_object(key, sources=None, bundle=True):
    """The problems of the object at key (empty: fine). sources: {name:
    bytes} the bundle's coverage files must equal; bundle=False: any bytes
    (only the SHA-256 is checked)."""
    r = s3.get_object(Bucket=B, Key=key)
    body = r["Body"].read()
    meta = r["Metadata"].get("covship-sha256", "")
    real = hashlib.sha256(body).hexdigest()
    bad = []
    if meta != real:
        bad.append("stored with covship-sha256 %s but its bytes hash to %s" % (meta or "-", real))
    if not bundle:
        return bad
    try:
        m = members(body, key)
        man = json.loads(m.pop("covship-manifest.json"))
        for f in man["files"]:
            if hashlib.sha256(m.get(f["path"], b"")).hexdigest() != f["sha256"]:
                bad.append("member %s does not match the manifest" % f["path"])
        if sources is not None and m != sources:
            bad.append("members %s are not the sources %s" % (sorted(m), sorted(sources)))
    except Exception as e:  # noqa: BLE001 - any decoding failure is a finding
        bad.append("not a readable bundle: %s" % e)
    return bad


def tool(proxy, *args, **extra):
    env = dict(FAST)
    env.update(extra)
    env["AWS_ENDPOINT_URL"] = proxy.endpoint
    return subprocess.run([S3TOOL] + [str(a) for a in args], env=h.child_env(ENV, **env),
                          capture_output=True, timeout=180)


def lib_level(tmp):
    state = os.path.join(tmp, "state")
    os.mkdir(state)
    good = os.urandom(11 * MiB + 777)  # three 5 MiB parts
    good_sha = hashlib.sha256(good).hexdigest()
    big = os.path.join(tmp, "b.tar.gz")

    # A stale SHA-256: byte flipped in the middle part.
    with open(big, "wb") as f:
        f.write(good)
    flip(big, 7 * MiB)
    pre = h.unique_prefix("mpverify-stale")
    proxy = h.FaultProxy(ENV, [], tmp)
    try:
        r = tool(proxy, "deliver", "s3://%s/%s" % (B, pre), "b.tar.gz", big, good_sha, state)
        log = proxy.log()
    finally:
        proxy.stop()
    err = r.stderr.decode(errors="replace")
    c.check(r.returncode == 3 and r.stdout.decode().strip() == "DEST_CORRUPT",
            "stale SHA-256, multipart: DEST_CORRUPT (exit %d: %s)" % (r.returncode, err[-300:]))
    c.check("changed" in err and good_sha in err and h.sha256_file(big) in err,
            "stale SHA-256, multipart: the line names both SHA-256s")
    c.check(count(log, "PUT", "partNumber") == 3 and count(log, "POST", "uploadId") == 0 and
            count(log, "DELETE", "uploadId") == 1,
            "stale SHA-256, multipart: 3 parts sent, no Complete, one Abort")
    c.check(not exists(pre + "b.tar.gz") and open_uploads(pre) == [] and os.listdir(state) == [],
            "stale SHA-256, multipart: no object, no upload open, no resume state")

    small = os.path.join(tmp, "s.tar.gz")
    with open(small, "wb") as f:
        f.write(good[:300_000])
    pre = h.unique_prefix("mpverify-single")
    proxy = h.FaultProxy(ENV, [], tmp)
    try:
        r = tool(proxy, "deliver", "s3://%s/%s" % (B, pre), "s.tar.gz", small, good_sha, state)
        log = proxy.log()
    finally:
        proxy.stop()
    c.check(r.returncode == 3 and count(log, "PUT") == 0 and not exists(pre + "s.tar.gz"),
            "stale SHA-256, single PutObject: DEST_CORRUPT before sending (exit %d)" %
            r.returncode)

    # Resume: part 1 goes out damaged, parts 2.. fail (DEST_RETRY, state kept);
    # the file is repaired; the next run must not complete the old upload.
    with open(big, "wb") as f:
        f.write(good)
    flip(big, 1000)
    pre = h.unique_prefix("mpverify-resume")
    url = "s3://%s/%s" % (B, pre)
    proxy = h.FaultProxy(ENV, [{"action": "reset_request", "method": "PUT", "query": "partNumber",
                                "skip": 1, "count": 100}], tmp)
    try:
        r = tool(proxy, "deliver", url, "b.tar.gz", big, good_sha, state,
                 COVSHIP_S3_MAX_ATTEMPTS=2, COVSHIP_S3_PARALLEL_PARTS=1)
    finally:
        proxy.stop()
    c.check(r.returncode == 1 and len(os.listdir(state)) == 1,
            "resume: interrupted after a damaged part 1: DEST_RETRY, state kept (exit %d)" %
            r.returncode)
    with open(big, "wb") as f:
        f.write(good)
    proxy = h.FaultProxy(ENV, [], tmp)
    try:
        r = tool(proxy, "deliver", url, "b.tar.gz", big, good_sha, state)
        log = proxy.log()
    finally:
        proxy.stop()
    err = r.stderr.decode(errors="replace")
    c.check(r.returncode == 0, "resume: repaired file DEST_OK (%s)" % err[-300:])
    c.check("differs" in err and count(log, "DELETE", "uploadId") == 1 and
            count(log, "POST", "uploads") == 1 and count(log, "PUT", "partNumber") == 3,
            "resume: the old part read again, differs: old upload aborted, all 3 parts sent anew")
    bad = check_object(pre + "b.tar.gz", bundle=False)
    c.check(bad == [] and h.sha256_object(s3, B, pre + "b.tar.gz") == good_sha,
            "resume: the object is the repaired file, its covship-sha256 right (%s)" % bad)
    c.check(open_uploads(pre) == [] and os.listdir(state) == [],
            "resume: no upload open, no resume state")


def push(cov, spool, url, env, proxy=None, secret=None):
    e = dict(env)
    if proxy:
        e["AWS_ENDPOINT_URL"] = proxy.endpoint
    ce = h.child_env(ENV, **e)
    if secret:
        ce["AWS_SECRET_ACCESS_KEY"] = secret
    return subprocess.run([COVSHIP, "push", "--dir", cov, "--dest", url, "--spool", spool,
                           "--include", ".coverage*"] + env.get("ARGS", []),
                          env=ce, capture_output=True, timeout=120)


def spooled(spool):
    """(bundle path, plan dict) of the one plan in the spool."""
    plans = [f for f in os.listdir(spool) if f.endswith(".plan.json")]
    bundles = [f for f in os.listdir(spool) if ".tar." in f and not f.startswith(".")]
    if len(plans) != 1 or len(bundles) != 1:
        return None, None
    with open(os.path.join(spool, plans[0])) as f:
        return os.path.join(spool, bundles[0]), json.load(f)


def sidecar(tmp, name, compression, change_source):
    cov, spool = os.path.join(tmp, name + "-cov"), os.path.join(tmp, name + "-spool")
    os.mkdir(cov)
    sources = {".coverage.big": os.urandom(7 * MiB), ".coverage.small": os.urandom(3000)}
    for n, data in sources.items():
        with open(os.path.join(cov, n), "wb") as f:
            f.write(data)
    if change_source:  # a shim run: the plan carries its done.json
        os.makedirs(os.path.join(cov, ".covship"))
        with open(os.path.join(cov, ".covship", "run.json"), "w") as f:
            json.dump({"schema": 1, "run_id": RUN, "data_dir": "run-" + RUN}, f)
        with open(os.path.join(cov, ".covship", "done.json"), "w") as f:
            json.dump({"schema": 1, "run_id": RUN, "status": "complete", "exit_status": 0}, f)
    pre = h.unique_prefix("mpverify-" + name)
    url = "s3://%s/%s" % (B, pre)
    env = dict(FAST)
    env["ARGS"] = ["--compression", compression]
    r = push(cov, spool, url, env, secret="wrong" + ENV["AWS_SECRET_ACCESS_KEY"])
    bundle, plan = spooled(spool)
    c.check(r.returncode == 1 and bundle and os.path.getsize(bundle) > 5 * MiB,
            "%s: refused push (wrong secret) leaves a multipart-size bundle in the spool "
            "(exit %d)" % (name, r.returncode))
    if not bundle:
        return
    built = h.sha256_file(bundle)
    c.check(plan.get("bundle_sha256") == built,
            "%s: the plan records the bundle's SHA-256 as built" % name)
    key = pre + plan["key"]
    flip(bundle, os.path.getsize(bundle) // 2)
    damaged = open(bundle, "rb").read()
    if change_source:
        sources[".coverage.small"] = b"rewritten after planning"
        with open(os.path.join(cov, ".coverage.small"), "wb") as f:
            f.write(sources[".coverage.small"])

    proxy = h.FaultProxy(ENV, [], tmp)
    try:
        r = push(cov, spool, url, env, proxy)
        log = proxy.log()
    finally:
        proxy.stop()
    err = r.stderr.decode(errors="replace")
    bname = os.path.basename(bundle)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=B, Prefix=pre).get("Contents", []))
    problems = {k: check_object(k) for k in keys}
    c.check(all(p == [] for p in problems.values()),
            "%s: every stored object's bytes match its covship-sha256 and manifest (%s)" %
            (name, problems))
    c.check(count(log, "DELETE", "uploadId") >= 1,
            "%s: the upload of the damaged bytes was aborted before Complete" % name)
    stored = [s3.get_object(Bucket=B, Key=k)["Body"].read() for k in keys]
    c.check(damaged not in stored, "%s: the damaged bytes were never stored" % name)
    left = sorted(f for f in os.listdir(spool) if f.endswith(".plan.json") or ".tar." in f)
    c.check(left == [] and sorted(os.listdir(cov)) == ([".covship"] if change_source else []),
            "%s: spool and sources empty at the end (%s %s)" % (name, left, os.listdir(cov)))
    if not change_source:
        c.check(r.returncode == 0, "%s: push exits 0 (%d: %s)" % (name, r.returncode, err[-400:]))
        c.check(("bundle %s in the spool is damaged" % bname) in err and
                "building it again" in err and built in err,
                "%s: one line says the bundle is damaged and built again" % name)
        c.check(keys == [key] and check_object(key, sources) == [],
                "%s: the rebuilt bundle is at its key, holding the sources byte for byte" % name)
        return
    lines = [ln for ln in err.splitlines() if "is damaged" in ln]
    c.check(r.returncode == 1, "%s: push exits 1 (%d)" % (name, r.returncode))
    c.check(len(lines) == 1 and ("bundle %s in the spool is damaged" % bname) in lines[0] and
            "its sources changed (.coverage.small: changed since it was planned)" in lines[0] and
            "sources still in the volume are kept" in lines[0],
            "%s: one clear error line naming the bundle and why (%s)" % (name, lines))
    c.check(key in keys and len(keys) == 2,
            "%s: the plan's key and one new key stored (%s)" % (name, keys))
    got = {}
    for k in keys:
        body = s3.get_object(Bucket=B, Key=k)["Body"].read()
        m = members(body, k)
        man = json.loads(m.pop("covship-manifest.json"))
        if k == key:
            c.check(m == {} and man.get("marker", {}).get("run_id") == RUN,
                    "%s: the plan's key holds the run's marker alone" % name)
        got.update(m)
    c.check(got == sources, "%s: the kept sources arrived in the new bundle, byte for byte "
            "(the rewritten one as rewritten)" % name)


def control(tmp):
    """What the code before this change stored is flagged by check_object."""
    cov, spool = os.path.join(tmp, "ctl-cov"), os.path.join(tmp, "ctl-spool")
    os.mkdir(cov)
    with open(os.path.join(cov, ".coverage.big"), "wb") as f:
        f.write(os.urandom(6 * MiB))
    pre = h.unique_prefix("mpverify-control")
    env = dict(FAST)
    env["ARGS"] = []
    push(cov, spool, "s3://%s/%s" % (B, pre), env, secret="wrong" + ENV["AWS_SECRET_ACCESS_KEY"])
    bundle, plan = spooled(spool)
    if not c.check(bundle is not None, "control: a bundle in the spool"):
        return
    recorded = h.sha256_file(bundle)
    flip(bundle, os.path.getsize(bundle) // 2)
    data = open(bundle, "rb").read()
    s3.put_object(Bucket=B, Key=pre + "trusting.tar.gz", Body=data,
                  Metadata={"covship-sha256": recorded})
    s3.put_object(Bucket=B, Key=pre + "rehashed.tar.gz", Body=data,
                  Metadata={"covship-sha256": hashlib.sha256(data).hexdigest()})
    p1 = check_object(pre + "trusting.tar.gz")
    p2 = check_object(pre + "rehashed.tar.gz")
    c.check(any("bytes hash to" in p for p in p1),
            "control: damaged bytes under the recorded SHA-256 are flagged (%s)" % p1)
    c.check(p2 != [] and not any("bytes hash to" in p for p in p2),
            "control: damaged bytes under their own SHA-256 are flagged as no bundle (%s)" % p2)


def main(tmp):
    lib_level(tmp)
    sidecar(tmp, "rebuild", "gzip", change_source=False)
    sidecar(tmp, "changed", "zstd", change_source=True)
    control(tmp)
    c.exit()


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="s3mpverify.")
    try:
        main(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
