#!/usr/bin/python3
"""Driver of bench/pull/run: wall time and peak RSS of `covship pull` (list,
parallel download, verify, extract) vs `aws s3 cp --recursive` (download
only) of the same bundles from the same radosgw."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../tests/lib/s3"))
sys.path.insert(0, os.path.join(HERE, "../../tests/pull"))
import s3helpers as h  # noqa: E402
import pulltest  # noqa: E402

COVSHIP, ENV, WORK, COUNT = sys.argv[1], h.load_env(sys.argv[2]), sys.argv[3], int(sys.argv[4])
B = ENV["COVSHIP_TEST_BUCKET"]


measure = h.measure

# Nothing is deleted until the end (bench/pull/run removes WORK): on ext4
# without a journal (this VM's root), every inode allocation scans the free
# inodes of its group that were deleted in the last seconds to minutes
# (recently_deleted() in fs/ext4/ialloc.c), so removing one run's output
# just before the next run made that run pay for the cleanup: 4,000 freed
# inodes slowed covship's 4,000 creations far more than aws's 1,000.


def upload(s3):
    """COUNT bundles of 4 worker files (~64 KiB each, incompressible like
    sqlite pages are not, but it keeps the sizes honest)."""
    src = os.path.join(WORK, "src")
    os.makedirs(src)
    total = 0
    for i in range(COUNT):
        rid = "%032x" % (0xBE0000 + i)
        files = [("run-%s/.coverage.h.%d.%d" % (rid, i, j), os.urandom(16 << 10))
                 for j in range(4)]
        p = os.path.join(src, pulltest.bundle_name(rid))
        pulltest.good_bundle(p, rid, files)
        total += os.path.getsize(p)
        with open(p, "rb") as f:
            s3.put_object(Bucket=B, Key="bench/%s/%s" % (rid, os.path.basename(p)), Body=f)
    return total


def main():
    s3 = h.botocore_client(ENV)
    total = upload(s3)
    env = h.child_env(ENV)
    aenv = h.child_env(ENV, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    print("%d bundles, %.1f MiB in all" % (COUNT, total / 2**20))
    print("| tool | wall | peak RSS | vs aws s3 cp |")
    print("|---|---|---|---|")
    awsr = measure(["aws", "--endpoint-url", ENV["COVSHIP_TEST_S3_ENDPOINT"], "s3", "cp",
                    "--only-show-errors", "--recursive", "s3://%s/bench/" % B,
                    os.path.join(WORK, "aws")], aenv)
    rows = [("aws s3 cp --recursive (download only)", awsr)]
    # None: the default (32)
    for jobs in (4, 16, None):
        out = os.path.join(WORK, "cov%s" % jobs)
        opt = ["--jobs", str(jobs)] if jobs else []
        cov = measure([COVSHIP, "pull", "s3://%s/bench" % B, "--out", out,
                       "--log-level", "warning"] + opt, env)
        rows.append(("covship pull %s (download+verify+extract)" %
                     ("--jobs %d" % jobs if jobs else "(default --jobs)"), cov))
    for name, (wall, rss) in rows:
        print("| %s | %.2f s | %.1f MiB | %.2f× |" % (name, wall, rss / 1024, awsr[0] / wall))


if __name__ == "__main__":
    main()
