#!/usr/bin/python3
"""Driver of bench/s3/run: wall time and peak RSS of covship's S3 client vs
aws-cli for the same uploads, against the same radosgw."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/s3"))
import s3helpers as h  # noqa: E402

S3TOOL, ENV, WORK = sys.argv[1], h.load_env(sys.argv[2]), sys.argv[3]
B = ENV["COVSHIP_TEST_BUCKET"]
s3 = h.botocore_client(ENV)


measure = h.measure


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


def row(name, cov, awsr):
    print("| %-28s | %8.2f s | %8.2f s | %5.2f× | %8.1f MiB | %8.1f MiB |" % (
        name, cov[0], awsr[0], awsr[0] / cov[0], cov[1] / 1024, awsr[1] / 1024), flush=True)


def main():
    env = h.child_env(ENV)
    print("| workload                     | covship    | aws s3 cp  | speed-up | covship RSS | aws RSS     |")
    print("|---|---|---|---|---|---|")
    # One bundle of each size (RSS vs size), then 100 x 1 MiB.
    for label, size in (("1 MiB bundle", 1 << 20), ("64 MiB bundle", 64 << 20),
                        ("1 GiB bundle", 1 << 30)):
        f = make(os.path.join(WORK, "bundle.bin"), size)
        # As the sidecar calls it: dest_s3 with the bundle's SHA-256 known
        # (the sidecar hashes the bundle while writing it).
        sha = h.sha256_file(f)
        cov = measure([S3TOOL, "deliver", "s3://%s/cov" % B, "bundle.bin", f, sha, WORK], env)
        awsr = measure(aws(["s3", "cp", "--only-show-errors", f, "s3://%s/aws/bundle.bin" % B]),
                       aws_env())
        if h.sha256_object(s3, B, "cov/bundle.bin") != h.sha256_file(f):
            sys.exit("bench: covship's upload is not intact")
        row(label, cov, awsr)
        os.unlink(f)
        empty_bucket()
    d = os.path.join(WORK, "many")
    os.mkdir(d)
    files = [make(os.path.join(d, "b%03d.tar.gz" % i), 1 << 20) for i in range(100)]
    cov = measure([S3TOOL, "putmany", B, "cov/"] + files, env)
    awsr = measure(aws(["s3", "cp", "--only-show-errors", "--recursive", d, "s3://%s/aws/" % B]),
                   aws_env())
    row("100 × 1 MiB bundles", cov, awsr)
    # Downloads: s3_get_objects (16 at once, what pull uses) vs aws --recursive.
    out = os.path.join(WORK, "out")
    os.mkdir(out)
    cov = measure([S3TOOL, "getmany", B, out, "16"] + ["cov/" + os.path.basename(f) for f in files], env)
    awsr = measure(aws(["s3", "cp", "--only-show-errors", "--recursive", "s3://%s/aws/" % B,
                        os.path.join(WORK, "awsout")]), aws_env())
    row("download 100 × 1 MiB", cov, awsr)
    empty_bucket()


if __name__ == "__main__":
    main()
