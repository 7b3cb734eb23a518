#!/usr/bin/python3
"""Driver of bench/s3/run: wall time, client CPU, server CPU and peak RSS of
covship's S3 client vs aws-cli for the same uploads, against the same
radosgw. Usage: bench.py S3TOOL ENVFILE WORKDIR SERVERDIR COVSHIP"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/lib/s3"))
import s3helpers as h  # noqa: E402

S3TOOL, ENV, WORK, SRV, COVSHIP = (sys.argv[1], h.load_env(sys.argv[2]), sys.argv[3],
                                   sys.argv[4], sys.argv[5])
B = ENV["COVSHIP_TEST_BUCKET"]
s3 = h.botocore_client(ENV)
TICK = os.sysconf("SC_CLK_TCK")
# The server's own CPU (radosgw + the OSD, whose pid files
# scripts/s3server.sh keeps under its directory): on this machine it shares
# the cores with the client, so it bounds what any client can reach.
SERVER_PIDS = [int(open(os.path.join(SRV, "run", n + ".pid")).read())
               for n in ("client.rgw", "osd.0")]


def server_cpu():
    total = 0
    for pid in SERVER_PIDS:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        total += int(f[11]) + int(f[12])  # utime + stime
    return total / TICK


def measure(cmd, env):
    """(wall s, peak RSS KiB, client CPU s, server CPU s) of cmd."""
    s0, t0 = server_cpu(), time.monotonic()
    r = subprocess.run(["/usr/bin/time", "-f", "%M %U %S"] + cmd, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall, srv = time.monotonic() - t0, server_cpu() - s0
    if r.returncode:
        sys.exit("bench: %s failed: %s" % (cmd[0], r.stderr.decode()[-500:]))
    rss, user, sys_ = r.stderr.decode().strip().splitlines()[-1].split()
    return wall, int(rss), float(user) + float(sys_), srv


def aws_env():
    e = h.child_env(ENV)
    e["AWS_CONFIG_FILE"] = "/dev/null"
    e["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    return e


def aws(args):
    return ["aws", "--endpoint-url", ENV["COVSHIP_TEST_S3_ENDPOINT"]] + args


def empty_bucket():
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=B):
        for o in page.get("Contents", []):
            s3.delete_object(Bucket=B, Key=o["Key"])


def make(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 24)
            f.write(os.urandom(n))
            left -= n
    return path


def mean(runs):
    """Means of wall, client CPU and server CPU; the larger peak RSS."""
    n = len(runs)
    return (sum(r[0] for r in runs) / n, max(r[1] for r in runs),
            sum(r[2] for r in runs) / n, sum(r[3] for r in runs) / n)


def row(name, cov, awsr):
    print("| %-30s | %6.2f s | %6.2f s | %5.2f× | %5.2f / %5.2f s | %5.2f / %5.2f s "
          "| %5.1f MiB | %5.1f MiB |" % (
              name, cov[0], awsr[0], awsr[0] / cov[0], cov[2], awsr[2], cov[3], awsr[3],
              cov[1] / 1024, awsr[1] / 1024), flush=True)


def backlog(work, n, url):
    """A spool with n undelivered bundles of about 1 MiB (one incompressible
    coverage file each), the state after n pushes to `url` while it refused
    them: made with a file:// destination where a file stands in the way of
    the keys' directory (DEST_FATAL, no network), then bound to `url`.
    Returns (dir, spool)."""
    cov, spool, dest = (os.path.join(work, x) for x in ("cov", "spool", "dest"))
    for x in (cov, dest):
        os.makedirs(x)
    open(os.path.join(dest, "blocked"), "w").close()
    env = h.child_env(ENV)
    for i in range(n):
        make(os.path.join(cov, ".coverage.b%03d" % i), (1 << 20) - 2048)
        r = subprocess.run([COVSHIP, "push", "-q", "--dir", cov, "--spool", spool,
                            "--dest", "file://" + dest, "--compression-level", "1",
                            "--key-template", "blocked/{run_id}/{bundle}"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 1:
            sys.exit("bench: the refused push exited %d: %s" % (r.returncode,
                                                             r.stderr.decode()[-300:]))
    if sum(f.endswith(".tar.gz") for f in os.listdir(spool)) != n:
        sys.exit("bench: the backlog does not hold %d bundles" % n)
    # Each plan is bound to the destination it was made for (the blocked
    # directory), and push delivers it nowhere else. Bind them to `url`, the
    # bucket that is to have refused them, instead of refusing 5,050 uploads
    # of 1 MiB over the network to build the same state.
    for f in os.listdir(spool):
        if f.endswith(".plan.json"):
            with open(os.path.join(spool, f)) as fh:
                plan = json.load(fh)
            plan["origin"]["dest"] = url
            with open(os.path.join(spool, f), "w") as fh:
                json.dump(plan, fh)
    return cov, spool


def main():
    env = h.child_env(ENV)
    print("| workload | covship | aws s3 cp | speed-up | client CPU (covship / aws) "
          "| server CPU (covship / aws) | covship RSS | aws RSS |")
    print("|---|---|---|---|---|---|---|---|")
    # One bundle of each size (RSS vs size), then 100 x 1 MiB.
    for label, size in (("1 MiB bundle", 1 << 20), ("64 MiB bundle", 64 << 20),
                        ("1 GiB bundle", 1 << 30)):
        f = make(os.path.join(WORK, "bundle.bin"), size)
        # As the sidecar calls it: dest_s3 with the bundle's SHA-256 known
        # (the sidecar hashes the bundle while writing it).
        sha = h.sha256_file(f)
        # covship, aws, aws, covship (each to its own key), averaged: every
        # upload leaves the RAM-backed OSD slower for the next one (radosgw
        # frees deleted data only hours later), and this order cancels that
        # drift instead of favouring whoever goes first.
        runs = {"cov": [], "aws": []}
        for n, who in enumerate(("cov", "aws", "aws", "cov")):
            if who == "cov":
                runs[who].append(measure([S3TOOL, "deliver", "s3://%s/cov%d" % (B, n),
                                          "bundle.bin", f, sha, WORK], env))
                if h.sha256_object(s3, B, "cov%d/bundle.bin" % n) != sha:
                    sys.exit("bench: covship's upload is not intact")
            else:
                runs[who].append(measure(aws(["s3", "cp", "--only-show-errors", f,
                                              "s3://%s/aws%d/bundle.bin" % (B, n)]), aws_env()))
        row(label, mean(runs["cov"]), mean(runs["aws"]))
        os.unlink(f)
        empty_bucket()
    # 100 x 1 MiB as the product delivers them: a spool backlog of 100
    # bundles (left by pushes whose destination refused them), delivered by
    # one `covship push` (ship_pending: dest_deliver_many, 8 at once by
    # default, then 4; COVSHIP_S3_PARALLEL_BUNDLES=1 is the one-by-one loop
    # it replaced). aws-cli uploads the same 100 bundle files with --recursive.
    # Order aws, push, push 4, push one by one, push 4, push, aws: every
    # mean is centred on the same point, which cancels the server's drift
    # as above.
    d = os.path.join(WORK, "many")
    os.mkdir(d)
    order = ("aws", 8, 4, 1, 4, 8, "aws")
    backlogs = {n: backlog(os.path.join(WORK, "backlog%d" % n), 100, "s3://%s/push%d" % (B, n))
                for n, who in enumerate(order) if who != "aws"}
    for f in os.listdir(backlogs[1][1]):
        if f.endswith(".tar.gz"):
            shutil.copy(os.path.join(backlogs[1][1], f), d)
    runs = {"aws": [], 8: [], 4: [], 1: []}
    upload_all = aws(["s3", "cp", "--only-show-errors", "--recursive", d, "s3://%s/aws/" % B])
    for n, who in enumerate(order):
        if who == "aws":
            runs[who].append(measure(upload_all, aws_env()))
            continue
        cov, spool = backlogs[n]
        shas = {f: h.sha256_file(os.path.join(spool, f))
                for f in os.listdir(spool) if f.endswith(".tar.gz")}
        penv = dict(env)
        penv["COVSHIP_S3_PARALLEL_BUNDLES"] = str(who)
        runs[who].append(measure([COVSHIP, "push", "-q", "--dir", cov, "--spool", spool,
                                  "--dest", "s3://%s/push%d" % (B, n)], penv))
        if os.listdir(cov) or any(f.endswith(".tar.gz") for f in os.listdir(spool)):
            sys.exit("bench: push left sources or bundles behind")
        got = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=B, Prefix="push%d/" % n) for o in page.get("Contents", [])]
        if len(got) != 100 or any(h.sha256_object(s3, B, k) != shas[os.path.basename(k)]
                                  for k in got):
            sys.exit("bench: covship's delivery of the backlog is not intact")
    row("100 × 1 MiB spool, covship push", mean(runs[8]), mean(runs["aws"]))
    row("100 × 1 MiB spool, push 4 at once", mean(runs[4]), mean(runs["aws"]))
    row("100 × 1 MiB spool, one by one", mean(runs[1]), mean(runs["aws"]))
    # Downloads: s3_get_objects (16 at once, what pull uses) vs aws --recursive.
    out = os.path.join(WORK, "out")
    os.mkdir(out)
    cov = measure([S3TOOL, "getmany", B, out, "16"] + sorted(got), env)
    awsr = measure(aws(["s3", "cp", "--only-show-errors", "--recursive", "s3://%s/aws/" % B,
                        os.path.join(WORK, "awsout")]), aws_env())
    row("download 100 × 1 MiB", cov, awsr)
    empty_bucket()


if __name__ == "__main__":
    main()
