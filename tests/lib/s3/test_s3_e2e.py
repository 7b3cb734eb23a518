#!/usr/bin/python3
"""End-to-end against the fixture's radosgw: upload, multipart, conditional
put, delivery via dest_s3, paginated listing, and the wrong-secret control.
Usage: test_s3_e2e.py S3TOOL ENVFILE"""
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3helpers as h  # noqa: E402

S3TOOL, ENV = sys.argv[1], h.load_env(sys.argv[2])
B = ENV["COVSHIP_TEST_BUCKET"]
MP = {"COVSHIP_S3_MULTIPART_THRESHOLD": 5 << 20, "COVSHIP_S3_PART_SIZE": 5 << 20}
c = h.Checks()
s3 = h.botocore_client(ENV)


def tool(*args, **extra):
    return subprocess.run([S3TOOL] + [str(a) for a in args], env=h.child_env(ENV, **extra),
                          capture_output=True, timeout=120)


def make(path, size):
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return path


def main(tmp):
    pre = h.unique_prefix("e2e")
    small = make(os.path.join(tmp, "small.tar.gz"), 200_000)
    big = make(os.path.join(tmp, "big.tar.gz"), (13 << 20) + 12345)
    sha_small, sha_big = h.sha256_file(small), h.sha256_file(big)

    # Single PutObject: arrives intact, with our checksum recorded.
    r = tool("put", B, pre + "small.tar.gz", small)
    c.check(r.returncode == 0, "put small: exit 0 (%s)" % r.stderr.decode().strip())
    c.check(h.sha256_object(s3, B, pre + "small.tar.gz") == sha_small, "put small: bytes intact")
    hd = s3.head_object(Bucket=B, Key=pre + "small.tar.gz")
    c.check(hd["Metadata"].get("covship-sha256") == sha_small, "put small: x-amz-meta-covship-sha256")

    # Conditional put: a second If-None-Match put is refused with 412.
    r = tool("put", B, pre + "small.tar.gz", small, "--if-none-match")
    c.check(r.returncode == 3, "conditional put of an existing key: exit 3 (got %d)" % r.returncode)
    r = tool("put", B, pre + "new.tar.gz", small, "--if-none-match")
    c.check(r.returncode == 0, "conditional put of a new key: exit 0")

    # Multipart: 3 parts of 5 MiB, intact, no upload left behind.
    state = os.path.join(tmp, "spool")
    os.mkdir(state)
    r = tool("put", B, pre + "big.tar.gz", big, "--state-dir", state, **MP)
    c.check(r.returncode == 0, "multipart put: exit 0 (%s)" % r.stderr.decode().strip())
    c.check(h.sha256_object(s3, B, pre + "big.tar.gz") == sha_big, "multipart put: bytes intact")
    etag = s3.head_object(Bucket=B, Key=pre + "big.tar.gz")["ETag"]
    c.check(etag.endswith('-3"'), "multipart put: 3 parts (ETag %s)" % etag)
    c.check(os.listdir(state) == [], "multipart put: state file removed after Complete")
    ups = s3.list_multipart_uploads(Bucket=B, Prefix=pre).get("Uploads", [])
    c.check(ups == [], "multipart put: no upload left open")

    # Delivery through dest_s3: OK, then OK again (412 → HEAD verified), a
    # different file under the same key is FATAL.
    url = "s3://%s/%sdest" % (B, pre)
    r = tool("deliver", url, "run-000001.tar.gz", small, sha_small, state)
    c.check(r.returncode == 0 and b"DEST_OK" in r.stdout, "deliver: DEST_OK")
    r = tool("deliver", url, "run-000001.tar.gz", small, sha_small, state)
    c.check(r.returncode == 0 and b"DEST_OK" in r.stdout, "re-deliver same bytes: DEST_OK via 412 + HEAD")
    r = tool("deliver", url, "run-000001.tar.gz", big, sha_big, state, **MP)
    c.check(r.returncode == 2 and b"other content" in r.stderr,
            "deliver other bytes to an existing key: DEST_FATAL (%s)" % r.stderr.decode().strip())
    c.check(h.sha256_object(s3, B, pre + "dest/run-000001.tar.gz") == sha_small,
            "the existing object was not overwritten")
    r = tool("deliver", url, "run-000002.tar.gz", big, sha_big, state, **MP)
    c.check(r.returncode == 0, "deliver multipart: DEST_OK")
    c.check(h.sha256_object(s3, B, pre + "dest/run-000002.tar.gz") == sha_big, "deliver multipart: intact")

    # Control: a wrong secret is rejected: DEST_FATAL naming the S3 code,
    # the bundle untouched.
    bad = dict(ENV)
    bad["AWS_SECRET_ACCESS_KEY"] = ENV["AWS_SECRET_ACCESS_KEY"][:-1] + "X"
    r = subprocess.run([S3TOOL, "deliver", url, "run-000003.tar.gz", small, sha_small, state],
                       env=h.child_env(bad), capture_output=True, timeout=60)
    err = r.stderr.decode().strip()
    c.check(r.returncode == 2, "wrong secret: DEST_FATAL (exit %d)" % r.returncode)
    c.check("SignatureDoesNotMatch" in err and err.count("\n") == 0,
            "wrong secret: one line naming SignatureDoesNotMatch (%s)" % err)
    c.check(bad["AWS_SECRET_ACCESS_KEY"] not in err + r.stdout.decode(), "wrong secret: secret not printed")
    c.check(h.sha256_file(small) == sha_small, "wrong secret: the bundle is still there")
    try:
        s3.head_object(Bucket=B, Key=pre + "dest/run-000003.tar.gz")
        c.check(False, "wrong secret: nothing stored")
    except s3.exceptions.ClientError:
        c.check(True, "wrong secret: nothing stored")

    # Download: GET into a file.
    out = os.path.join(tmp, "got")
    r = tool("get", B, pre + "big.tar.gz", out)
    c.check(r.returncode == 0 and h.sha256_file(out) == sha_big, "get: bytes intact")
    r = tool("get", B, pre + "missing", out)
    c.check(r.returncode == 4, "get of a missing key: exit 4 (got %d)" % r.returncode)

    # Interop: what covship uploaded, aws s3 cp downloads byte for byte.
    for name, sha in (("small.tar.gz", sha_small), ("big.tar.gz", sha_big)):
        dst = os.path.join(tmp, "aws-" + name)
        r = h.aws_cli(ENV, "s3", "cp", "s3://%s/%s%s" % (B, pre, name), dst)
        c.check(r.returncode == 0 and h.sha256_file(dst) == sha,
                "aws s3 cp downloads covship's %s byte for byte" % name)

    # Pagination: more than 1000 keys, awkward names included.
    lp = h.unique_prefix("list")
    names = ["k %04d+=~é.tar.gz" % i for i in range(1105)]
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        list(ex.map(lambda n: s3.put_object(Bucket=B, Key=lp + n, Body=b"x"), names))
    r = tool("list", B, lp)
    got = [line.rsplit(" ", 1)[0] for line in r.stdout.decode().splitlines()]
    c.check(r.returncode == 0, "list: exit 0")
    c.check(sorted(got) == sorted(lp + n for n in names),
            "list: all %d keys across pages (got %d)" % (len(names), len(got)))
    c.check(len(set(got)) == len(got), "list: no key twice")


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="s3e2e.")
    try:
        main(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.exit()
