#!/usr/bin/python3
"""Driver of bench/s3/run: wall time, client CPU, server CPU and peak RSS of
covship's S3 client vs aws-cli for the same uploads, against the same
radosgw. Usage: bench.py S3TOOL ENVFILE WORKDIR SERVERDIR"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/s3"))
import s3helpers as h  # noqa: E402

S3TOOL, ENV, WORK, SRV = sys.argv[1], h.load_env(sys.argv[2]), sys.argv[3], sys.argv[4]
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
    d = os.path.join(WORK, "many")
    os.mkdir(d)
    files = [make(os.path.join(d, "b%03d.tar.gz" % i), 1 << 20) for i in range(100)]
    # The spool's bundles with their SHA-256 (known to the sidecar), as
    # `sha256sum` lines for s3tool delivermany.
    lst = os.path.join(WORK, "many.list")
    with open(lst, "w") as f:
        f.writelines("%s  %s\n" % (h.sha256_file(p), p) for p in files)
    # What the sidecar's spool loop does today: one dest_deliver after the
    # other; then dest_s3_deliver_many with 4 and 8 at once (not wired in
    # yet: what the spool loop would gain). aws-cli runs before and after
    # them (the mean of both counts), for the same reason as above.
    upload_all = aws(["s3", "cp", "--only-show-errors", "--recursive", d, "s3://%s/aws/" % B])
    awsr = [measure(upload_all, aws_env())]
    covr = [(label, measure([S3TOOL, "delivermany", "s3://%s/cov%s" % (B, par), WORK, par, lst],
                            env))
            for label, par in (("100 × 1 MiB, one by one", "0"), ("100 × 1 MiB, 4 at once", "4"),
                               ("100 × 1 MiB, 8 at once", "8"))]
    awsr.append(measure(upload_all, aws_env()))
    for label, cov in covr:
        row(label, cov, mean(awsr))
    for p in files:
        if h.sha256_object(s3, B, "cov4/" + os.path.basename(p)) != h.sha256_file(p):
            sys.exit("bench: covship's concurrent upload is not intact")
    # Downloads: s3_get_objects (16 at once, what pull uses) vs aws --recursive.
    out = os.path.join(WORK, "out")
    os.mkdir(out)
    cov = measure([S3TOOL, "getmany", B, out, "16"] + ["cov0/" + os.path.basename(f) for f in files],
                  env)
    awsr = measure(aws(["s3", "cp", "--only-show-errors", "--recursive", "s3://%s/aws/" % B,
                        os.path.join(WORK, "awsout")]), aws_env())
    row("download 100 × 1 MiB", cov, awsr)
    empty_bucket()


if __name__ == "__main__":
    main()
