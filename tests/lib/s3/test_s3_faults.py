#!/usr/bin/python3
"""Fault proxy (faultproxy.py) in front of radosgw: 503 SlowDown bursts,
500s, connection resets mid-body, stalls beyond the timeout, 200 with
<Error> on Complete → every object arrives intact, nothing duplicated.
Also multipart abort on a fatal error and resume after an interrupted upload,
and `covship push` delivering a spool backlog several bundles at once.
Usage: test_s3_faults.py S3TOOL ENVFILE COVSHIP"""
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3helpers as h  # noqa: E402

S3TOOL, ENV, COVSHIP = sys.argv[1], h.load_env(sys.argv[2]), sys.argv[3]
B = ENV["COVSHIP_TEST_BUCKET"]
FAST = {"COVSHIP_S3_RETRY_BASE_MS": 20, "COVSHIP_S3_RETRY_CAP_MS": 200,
        "COVSHIP_S3_TIMEOUT_S": 2, "COVSHIP_S3_MAX_ATTEMPTS": 6,
        "COVSHIP_S3_MULTIPART_THRESHOLD": 5 << 20, "COVSHIP_S3_PART_SIZE": 5 << 20}
c = h.Checks()
s3 = h.botocore_client(ENV)


def tool(proxy, *args, **extra):
    env = dict(FAST)
    env.update(extra)
    env["AWS_ENDPOINT_URL"] = proxy.endpoint
    return subprocess.run([S3TOOL] + [str(a) for a in args], env=h.child_env(ENV, **env),
                          capture_output=True, timeout=180)


def make(path, size):
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return path


def count(log, method=None, query=None, action=None, status=None):
    n = 0
    for e in log:
        if method and e["method"] != method:
            continue
        if query is not None and query not in e["query"]:
            continue
        if action and e["action"] != action:
            continue
        if status is not None and e.get("status") != status:
            continue
        n += 1
    return n


def scenario(tmp, name, rules, files, state, expect_exit=0, **extra):
    """Deliver every file through a proxy with `rules`; returns (log, results)."""
    proxy = h.FaultProxy(ENV, rules, tmp)
    pre = h.unique_prefix("faults-" + name)
    results = []
    try:
        for f in files:
            r = tool(proxy, "deliver", "s3://%s/%s" % (B, pre), os.path.basename(f), f,
                     h.sha256_file(f), state, **extra)
            results.append(r)
            ok = r.returncode == expect_exit
            c.check(ok, "%s: deliver %s exits %d (got %d%s)" % (
                name, os.path.basename(f), expect_exit, r.returncode,
                "" if ok else ": " + r.stderr.decode().strip()[-300:]))
        log = proxy.log()
    finally:
        proxy.stop()
    if expect_exit == 0:
        listed = s3.list_objects_v2(Bucket=B, Prefix=pre).get("Contents", [])
        c.check(sorted(o["Key"] for o in listed) == sorted(pre + os.path.basename(f) for f in files),
                "%s: exactly the delivered keys exist" % name)
        for f in files:
            c.check(h.sha256_object(s3, B, pre + os.path.basename(f)) == h.sha256_file(f),
                    "%s: %s intact (SHA-256 via botocore)" % (name, os.path.basename(f)))
    ups = s3.list_multipart_uploads(Bucket=B, Prefix=pre).get("Uploads", [])
    c.check(ups == [], "%s: no multipart upload left open" % name)
    return log, results, pre


def many(proxy, url, state, parallel, lst):
    """s3tool delivermany; returns (exit, {key: result}, stderr)."""
    r = tool(proxy, "delivermany", url, state, parallel, lst)
    res = dict(line.split() for line in r.stdout.decode().splitlines())
    return r.returncode, res, r.stderr.decode()


def deliver_many(tmp, state, big):
    """dest_deliver_many on s3: several spooled bundles at once, each with
    dest_deliver's meaning; the one-by-one loop is the control."""
    d = os.path.join(tmp, "spoolmany")
    os.mkdir(d)
    files = [make(os.path.join(d, "m%d.tar.gz" % i), 100_000 + i) for i in range(5)] + [big]
    lst = os.path.join(tmp, "many.list")
    with open(lst, "w") as f:
        f.writelines("%s  %s\n" % (h.sha256_file(p), p) for p in files)
    keys = sorted(os.path.basename(p) for p in files)
    # Each small PutObject is held 0.3 s, so those sent at once overlap for
    # certain; the second one answers SlowDown once (retried on its own).
    rules = [{"action": "slowdown", "method": "PUT", "query": "!partNumber", "skip": 1, "count": 1},
             {"action": "delay", "method": "PUT", "query": "!partNumber", "count": 100}]
    inflight = {}
    for par in (4, 0):
        proxy = h.FaultProxy(ENV, rules, tmp)
        pre = h.unique_prefix("faults-many%d" % par)
        try:
            rc, res, err = many(proxy, "s3://%s/%s" % (B, pre), state, par, lst)
            log = proxy.log()
        finally:
            proxy.stop()
        c.check(rc == 0 and sorted(res) == keys and set(res.values()) == {"DEST_OK"},
                "deliver-many %d: every bundle DEST_OK (%s)" % (par, err.strip()[-300:]))
        c.check(all(h.sha256_object(s3, B, pre + os.path.basename(p)) == h.sha256_file(p)
                    for p in files), "deliver-many %d: every object intact" % par)
        c.check(count(log, "PUT", action="slowdown") == 1, "deliver-many %d: one SlowDown retried" % par)
        inflight[par] = max(e["inflight"] for e in log
                            if e["method"] == "PUT" and "partNumber" not in e["query"])
    c.check(inflight[4] >= 2, "deliver-many 4: PutObjects overlap (at most %d at once)" % inflight[4])
    c.check(inflight[0] == 1, "deliver-many control: one by one never overlaps (%d)" % inflight[0])

    # Again, with one key now holding other bytes and one bundle that no
    # longer matches its SHA-256: only those two fail, as dest_deliver would.
    pre = h.unique_prefix("faults-many-again")
    url = "s3://%s/%s" % (B, pre)
    s3.put_object(Bucket=B, Key=pre + "m1.tar.gz", Body=b"other")
    proxy = h.FaultProxy(ENV, [], tmp)
    try:
        rc, res, err = many(proxy, url, state, 4, lst)
        c.check(rc == 2 and res.get("m1.tar.gz") == "DEST_FATAL" and "other content" in err,
                "deliver-many: other bytes under an existing key are DEST_FATAL (%s)" %
                err.strip()[-300:])
        c.check(all(res.get(k) == "DEST_OK" for k in keys if k != "m1.tar.gz"),
                "deliver-many: the other bundles DEST_OK")
        # m2 anew, but listed with a SHA-256 it does not have (it changed).
        s3.delete_object(Bucket=B, Key=pre + "m2.tar.gz")
        bad = lst + ".bad"
        with open(lst) as f, open(bad, "w") as g:
            g.write(f.read().replace(h.sha256_file(files[2]), "0" * 64))
        rc, res, err = many(proxy, url, state, 4, bad)
    finally:
        proxy.stop()
    c.check(rc == 3 and res.get("m2.tar.gz") == "DEST_CORRUPT" and "changed" in err,
            "deliver-many: a bundle that is not its SHA-256 is DEST_CORRUPT (%s)" % err.strip()[-300:])
    c.check(all(res.get(k) == "DEST_OK" for k in keys if k not in ("m1.tar.gz", "m2.tar.gz")),
            "deliver-many: again, the others DEST_OK (412, same bytes)")
    c.check(s3.get_object(Bucket=B, Key=pre + "m1.tar.gz")["Body"].read() == b"other",
            "deliver-many: the existing object was not overwritten")
    try:
        s3.head_object(Bucket=B, Key=pre + "m2.tar.gz")
        c.check(False, "deliver-many: the changed bundle was not stored")
    except s3.exceptions.ClientError:
        c.check(True, "deliver-many: the changed bundle was not stored")


def backlog(tmp, name, nbundles):
    """A spool holding nbundles undelivered bundles: `covship push` while the
    destination refuses us (a wrong secret: 403, DEST_FATAL), each push with
    two new coverage files. Returns (cov, spool, url, {path: bytes}, env)."""
    cov, spool = os.path.join(tmp, name + "-cov"), os.path.join(tmp, name + "-spool")
    os.mkdir(cov)
    url = "s3://%s/%s" % (B, h.unique_prefix("faults-" + name))
    env = dict(FAST)
    denied = h.child_env(ENV, **env)
    denied["AWS_SECRET_ACCESS_KEY"] = "wrong" + ENV["AWS_SECRET_ACCESS_KEY"]
    sources = {}
    for i in range(nbundles):
        for part in "ab":
            rel = ".coverage.push%02d.%s" % (i, part)
            sources[rel] = os.urandom(60_000 + 1000 * i)
            with open(os.path.join(cov, rel), "wb") as f:
                f.write(sources[rel])
        r = subprocess.run([COVSHIP, "push", "--dir", cov, "--dest", url, "--spool", spool],
                           env=denied, capture_output=True, timeout=60)
        if r.returncode != 1:
            c.check(False, "%s: denied push %d exits 1 (got %d: %s)" % (
                name, i, r.returncode, r.stderr.decode(errors="replace")[-300:]))
    spooled = sorted(f for f in os.listdir(spool) if f.endswith(".tar.gz"))
    c.check(len(spooled) == nbundles, "%s: %d bundles spooled while denied (%d)" %
            (name, nbundles, len(spooled)))
    return cov, spool, url, sources, env


def spool_backlog(tmp):
    """ship_pending delivers a spool backlog with one dest_deliver_many:
    several PutObjects in flight (the proxy holds each 0.3 s), every bundle
    intact exactly once, spool and sources empty. Control: with
    COVSHIP_S3_PARALLEL_BUNDLES=1 never more than one at once. Then a 500
    burst and a reset hit some of the concurrent PUTs: still all delivered,
    each key stored by exactly one successful PUT."""
    delay = {"action": "delay", "method": "PUT", "count": 1000}
    faults = [{"action": "error500", "method": "PUT", "skip": 2, "count": 3},
              {"action": "reset_request", "method": "PUT", "skip": 8, "count": 1}]
    inflight = {}
    for name, rules, extra in (("backlog", [delay], {}),
                               ("backlog-one", [delay], {"COVSHIP_S3_PARALLEL_BUNDLES": 1}),
                               ("backlog-faults", faults + [delay], {})):
        n = 12
        cov, spool, url, sources, env = backlog(tmp, name, n)
        shas = {f: h.sha256_file(os.path.join(spool, f))
                for f in os.listdir(spool) if f.endswith(".tar.gz")}
        env.update(extra)
        proxy = h.FaultProxy(ENV, rules, tmp)
        try:
            env["AWS_ENDPOINT_URL"] = proxy.endpoint
            r = subprocess.run([COVSHIP, "push", "--dir", cov, "--dest", url, "--spool", spool],
                               env=h.child_env(ENV, **env), capture_output=True, timeout=120)
            log = proxy.log()
        finally:
            proxy.stop()
        err = r.stderr.decode(errors="replace")
        c.check(r.returncode == 0, "%s: push delivers the backlog, exit 0%s" %
                (name, "" if r.returncode == 0 else " (%d: %s)" % (r.returncode, err[-300:])))
        puts = [e for e in log if e["method"] == "PUT"]
        inflight[name] = max([e["inflight"] for e in puts] or [0])
        delivered_once(name, url, shas, sources, log)
        left = sorted(f for f in os.listdir(spool) if f.endswith(".plan.json") or ".tar." in f)
        c.check(left == [], "%s: spool empty (%s)" % (name, left))
        c.check(os.listdir(cov) == [], "%s: sources removed (%s)" % (name, os.listdir(cov)))
        if name == "backlog-faults":
            c.check(sum(e["action"] == "error500" for e in puts) == 3 and
                    sum(e["action"] == "reset_request" for e in puts) == 1,
                    "%s: three 500s and one reset hit the concurrent PUTs" % name)
    # SIGKILL while the batch is in flight (some PUTs answered, none recorded
    # yet), then push again: the bundles that landed answer 412 and are
    # verified by their SHA-256 (HEAD), the others are sent; each once.
    name, n = "backlog-kill", 12
    cov, spool, url, sources, env = backlog(tmp, name, n)
    shas = {f: h.sha256_file(os.path.join(spool, f))
            for f in os.listdir(spool) if f.endswith(".tar.gz")}
    proxy = h.FaultProxy(ENV, [delay], tmp)
    try:
        env["AWS_ENDPOINT_URL"] = proxy.endpoint
        p = subprocess.Popen([COVSHIP, "push", "--dir", cov, "--dest", url, "--spool", spool],
                             env=h.child_env(ENV, **env), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and p.poll() is None and \
                sum(e.get("status") == 200 for e in proxy.log()) < 3:
            time.sleep(0.01)
        p.kill()
        p.wait()
        landed = sum(e.get("status") == 200 for e in proxy.log())
        c.check(p.returncode == -9 and 3 <= landed < n,
                "%s: killed with %d of %d PUTs answered (exit %s)" % (name, landed, n, p.returncode))

        r = subprocess.run([COVSHIP, "push", "--dir", cov, "--dest", url, "--spool", spool],
                           env=h.child_env(ENV, **env), capture_output=True, timeout=120)
        log = proxy.log()
    finally:
        proxy.stop()
    c.check(r.returncode == 0, "%s: the next push delivers the rest, exit 0%s" % (
        name, "" if r.returncode == 0 else ": " + r.stderr.decode(errors="replace")[-300:]))
    # How many landed bundles the killed push had recorded in the ~10 ms
    # before the kill depends on the machine's speed (an ASan build records
    # more of them): at least one must be left to answer 412, and "not
    # re-sent" is the next check (one successful PUT per bundle).
    n412 = sum(e.get("status") == 412 for e in log)
    c.check(n412 >= 1, "%s: landed bundles answered 412 and were verified (%d of the %d "
            "that landed before the kill)" % (name, n412, landed))
    delivered_once(name, url, shas, sources, log)
    left = sorted(f for f in os.listdir(spool) if f.endswith(".plan.json") or ".tar." in f)
    c.check(left == [] and os.listdir(cov) == [], "%s: spool and sources empty (%s %s)" %
            (name, left, os.listdir(cov)))

    c.check(inflight["backlog"] >= 2,
            "backlog: bundles delivered concurrently (at most %d PUTs at once)" % inflight["backlog"])
    c.check(inflight["backlog-faults"] >= 2,
            "backlog-faults: concurrently too (%d at once)" % inflight["backlog-faults"])
    c.check(inflight["backlog-one"] == 1,
            "backlog control: COVSHIP_S3_PARALLEL_BUNDLES=1 never overlaps (%d)" %
            inflight["backlog-one"])


def delivered_once(name, url, shas, sources, log):
    """The bucket holds exactly the spooled bundles, intact, each stored by
    one successful PUT, and every coverage file is in exactly one of them."""
    ok = {}
    for e in log:
        if e["method"] == "PUT" and e.get("status") == 200:
            ok[e["path"]] = ok.get(e["path"], 0) + 1
    c.check(len(ok) == len(shas) and set(ok.values()) == {1},
            "%s: each bundle stored by exactly one successful PUT (%s)" %
            (name, sorted(ok.values())))
    pre = url.split("/", 3)[3]
    listed = s3.list_objects_v2(Bucket=B, Prefix=pre).get("Contents", [])
    c.check(sorted(os.path.basename(o["Key"]) for o in listed) == sorted(shas),
            "%s: exactly the %d spooled bundles are in the bucket" % (name, len(shas)))
    seen = {}
    for o in listed:
        body = s3.get_object(Bucket=B, Key=o["Key"])["Body"].read()
        c.check(hashlib.sha256(body).hexdigest() == shas.get(os.path.basename(o["Key"])),
                "%s: %s intact (SHA-256 via botocore)" % (name, os.path.basename(o["Key"])))
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as t:
            for m in t.getmembers():
                if m.name != "covship-manifest.json":
                    seen.setdefault(m.name, []).append(t.extractfile(m).read())
    twice = sorted(k for k, v in seen.items() if len(v) > 1)
    c.check(set(seen) == set(sources) and all(v == [sources[k]] for k, v in seen.items()),
            "%s: every coverage file delivered once, byte for byte (%d of %d seen, twice: %s)" %
            (name, len(seen), len(sources), twice[:3]))


def finish_crashes(tmp):
    """SIGKILL at many points of a concurrent backlog delivery, then push
    again: nothing lost, nothing twice. The clean-up of confirmed bundles
    runs while others are in flight, grouped (ship.c finish_group: marks,
    sources, bundles and plans, each step durable for the group before the
    next); COVSHIP_TEST_FINISH_KILL=N kills the process right after its
    N-th clean-up step, so every kind of step boundary is hit, and
    "after k PUTs answered" kills land wherever the clean-up happens to be.
    A clean-up that removed a plan before its sources would leave sources
    with no plan: the restart would bundle them again and ship them twice."""
    delay = {"action": "delay", "method": "PUT", "count": 1000}
    n = 8
    points = [("step", k) for k in (1, 2, 3, 5, 8, 11, 14, 18, 23, 29)] + \
             [("puts", k) for k in (1, 5)]
    for kind, k in points:
        name = "finish-kill-%s%d" % (kind, k)
        cov, spool, url, sources, env = backlog(tmp, name, n)
        shas = {f: h.sha256_file(os.path.join(spool, f))
                for f in os.listdir(spool) if f.endswith(".tar.gz")}
        proxy = h.FaultProxy(ENV, [delay], tmp)
        try:
            env["AWS_ENDPOINT_URL"] = proxy.endpoint
            kenv = dict(env)
            if kind == "step":
                kenv["COVSHIP_TEST_FINISH_KILL"] = k
            p = subprocess.Popen([COVSHIP, "push", "--dir", cov, "--dest", url, "--spool",
                                  spool], env=h.child_env(ENV, **kenv),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if kind == "puts":
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and p.poll() is None and \
                        sum(e.get("status") == 200 for e in proxy.log()) < k:
                    time.sleep(0.005)
                p.kill()
            p.wait(timeout=120)
            c.check(p.returncode == -9, "%s: killed (exit %s)" % (name, p.returncode))
            r = subprocess.run([COVSHIP, "push", "--dir", cov, "--dest", url, "--spool", spool],
                               env=h.child_env(ENV, **env), capture_output=True, timeout=120)
            log = proxy.log()
        finally:
            proxy.stop()
        c.check(r.returncode == 0, "%s: the next push finishes, exit 0%s" % (
            name, "" if r.returncode == 0 else ": " + r.stderr.decode(errors="replace")[-300:]))
        delivered_once(name, url, shas, sources, log)
        left = sorted(f for f in os.listdir(spool) if f.endswith(".plan.json") or ".tar." in f)
        c.check(left == [] and os.listdir(cov) == [], "%s: spool and sources empty (%s %s)" %
                (name, left, os.listdir(cov)))


def main(tmp):
    state = os.path.join(tmp, "spool")
    os.mkdir(state)
    small = make(os.path.join(tmp, "s.tar.gz"), 300_000)
    big = make(os.path.join(tmp, "b.tar.gz"), (11 << 20) + 777)
    both = [small, big]

    log, _, _ = scenario(tmp, "slowdown", [{"action": "slowdown", "method": "PUT", "count": 4}],
                         [small], state)
    c.check(count(log, "PUT", action="slowdown") == 4 and count(log, "PUT", status=200) == 1,
            "slowdown: 4 × 503 then one successful PUT")

    log, _, _ = scenario(tmp, "error500", [{"action": "error500", "method": "PUT", "query": "partNumber", "count": 3},
                                           {"action": "error500", "method": "POST", "query": "uploads", "count": 1}],
                         both, state)
    c.check(count(log, "PUT", "partNumber", action="error500") == 3, "error500: three 500s on UploadPart")

    log, _, _ = scenario(tmp, "reset", [{"action": "reset_request", "method": "PUT", "count": 3}],
                         both, state)
    c.check(count(log, "PUT", action="reset_request") == 3, "reset: three uploads cut mid-body")

    log, _, _ = scenario(tmp, "stall", [{"action": "stall", "method": "PUT", "query": "partNumber",
                                         "count": 1, "seconds": 5}], [big], state)
    c.check(count(log, "PUT", "partNumber", action="stall") == 1, "stall: one part stalled past the timeout")

    log, _, _ = scenario(tmp, "complete-error", [{"action": "complete_error", "method": "POST",
                                                  "query": "uploadId", "count": 2}], [big], state)
    c.check(count(log, "POST", "uploadId") == 3, "complete-error: Complete retried after two 200+<Error>")

    log, _, _ = scenario(tmp, "complete-lost", [{"action": "forward_then_error", "method": "POST",
                                                 "query": "uploadId", "count": 1}], [big], state)
    c.check(count(log, "POST", "uploads") == 1, "complete-lost: no second upload started")

    # GET: a reset mid-body is retried and the file rewritten from 0.
    proxy = h.FaultProxy(ENV, [{"action": "reset_response", "method": "GET", "count": 2}], tmp)
    try:
        key = h.unique_prefix("faults-get") + "b.tar.gz"
        with open(big, "rb") as f:
            s3.put_object(Bucket=B, Key=key, Body=f)
        out = os.path.join(tmp, "got")
        r = tool(proxy, "get", B, key, out)
        c.check(r.returncode == 0 and h.sha256_file(out) == h.sha256_file(big),
                "get: intact after two resets mid-body")
        c.check(count(proxy.log(), "GET", action="reset_response") == 2, "get: two resets injected")
    finally:
        proxy.stop()

    # Parallel downloads (libcurl multi, 4 at a time) through 503s, resets
    # mid-body and a stall: every file intact, each key fetched until good.
    gp = h.unique_prefix("faults-getmany")
    files = {}
    for i in range(12):
        data = os.urandom(150_000 + i * 7919)
        files["g%02d.tar.gz" % i] = data
        s3.put_object(Bucket=B, Key=gp + "g%02d.tar.gz" % i, Body=data)
    proxy = h.FaultProxy(ENV, [{"action": "slowdown", "method": "GET", "count": 3},
                               {"action": "reset_response", "method": "GET", "count": 3},
                               {"action": "stall", "method": "GET", "count": 1, "seconds": 4}], tmp)
    outdir = os.path.join(tmp, "many")
    os.mkdir(outdir)
    try:
        r = tool(proxy, "getmany", B, outdir, 4, *[gp + k for k in sorted(files)])
        log = proxy.log()
    finally:
        proxy.stop()
    c.check(r.returncode == 0, "getmany: all downloads succeed (%s)" % r.stderr.decode().strip()[-300:])
    c.check(all(open(os.path.join(outdir, k), "rb").read() == v for k, v in files.items()),
            "getmany: all 12 files intact")
    c.check(count(log, "GET", action="forward", status=200) == 12,
            "getmany: exactly one good GET per key (%d)" % count(log, "GET", action="forward", status=200))
    r = subprocess.run([S3TOOL, "getmany", B, outdir, "4", gp + "g00.tar.gz", gp + "missing.tar.gz"],
                       env=h.child_env(ENV), capture_output=True, timeout=60)
    c.check(r.returncode == 1 and b"missing.tar.gz" in r.stderr and b"404" in r.stderr,
            "getmany control: a missing key fails the batch, named")

    # RequestTimeTooSkewed: the clock offset comes from the Date header. With
    # the proxy's Date = now the retry succeeds; with Date = now + 1 h the
    # retry carries a time 1 h ahead, which radosgw itself refuses: proof that
    # the offset is applied (and that a second skew is not retried forever).
    log, _, _ = scenario(tmp, "skew", [{"action": "skewed", "method": "PUT", "count": 1}], [small], state)
    c.check(count(log, "PUT", action="skewed") == 1 and count(log, "PUT", status=200) == 1,
            "skew: one RequestTimeTooSkewed, then the corrected request")
    log, res, _ = scenario(tmp, "skew-1h", [{"action": "skewed", "method": "PUT", "count": 1,
                                             "offset": 3600}], [small], state, expect_exit=2)
    c.check(b"RequestTimeTooSkewed" in res[0].stderr and count(log, "PUT", status=403) == 2,
            "skew control: the 1 h offset was applied (radosgw refused the shifted time)")

    deliver_many(tmp, state, big)
    spool_backlog(tmp)
    finish_crashes(tmp)

    # Control: without retries the same burst fails, as DEST_RETRY.
    scenario(tmp, "no-retries", [{"action": "slowdown", "method": "PUT", "count": 4}], [small], state,
             expect_exit=1, COVSHIP_S3_MAX_ATTEMPTS=1)

    # A fatal answer to UploadPart: DEST_FATAL, the upload aborted.
    log, res, _ = scenario(tmp, "fatal-part", [{"action": "status", "code": 400, "s3code": "InvalidPart",
                                                "method": "PUT", "query": "partNumber", "count": 1}],
                           [big], state, expect_exit=2)
    c.check(b"InvalidPart" in res[0].stderr, "fatal-part: the message names InvalidPart")
    c.check(count(log, "DELETE", "uploadId") == 1, "fatal-part: AbortMultipartUpload sent")
    c.check(os.listdir(state) == [], "fatal-part: resume state removed")

    # Resume: parts 2.. fail until the attempts run out → DEST_RETRY with
    # the state kept; the next run sends only the missing parts.
    proxy = h.FaultProxy(ENV, [{"action": "reset_request", "method": "PUT", "query": "partNumber",
                                "skip": 1, "count": 100}], tmp)
    pre = h.unique_prefix("faults-resume")
    url = "s3://%s/%s" % (B, pre)
    try:
        r = tool(proxy, "deliver", url, "b.tar.gz", big, h.sha256_file(big), state,
                 COVSHIP_S3_MAX_ATTEMPTS=2)
        c.check(r.returncode == 1, "resume: interrupted upload is DEST_RETRY (got %d)" % r.returncode)
        c.check(len(os.listdir(state)) == 1, "resume: state kept in the spool")
    finally:
        proxy.stop()
    proxy = h.FaultProxy(ENV, [], tmp)
    try:
        r = tool(proxy, "deliver", url, "b.tar.gz", big, h.sha256_file(big), state)
        log = proxy.log()
        c.check(r.returncode == 0, "resume: second run DEST_OK (%s)" % r.stderr.decode().strip()[-200:])
        c.check(count(log, "POST", "uploads") == 0, "resume: no new CreateMultipartUpload")
        c.check(count(log, "PUT", "partNumber") == 2, "resume: only parts 2 and 3 sent (%d)" %
                count(log, "PUT", "partNumber"))
        c.check(h.sha256_object(s3, B, pre + "b.tar.gz") == h.sha256_file(big), "resume: intact")
        c.check(os.listdir(state) == [], "resume: state removed after Complete")
    finally:
        proxy.stop()


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="s3faults.")
    try:
        main(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.exit()
