#!/usr/bin/python3
"""TLS options against an https front (faultproxy.py with a self-signed
certificate made by this test) of the fixture's radosgw: verification is
on by default (an unknown CA fails with one clear line), --ca-bundle makes
it pass, --insecure makes it pass with a warning, a missing CA file is a
configuration error.
Usage: test_s3_tls.py S3TOOL ENVFILE"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3helpers as h  # noqa: E402

S3TOOL, ENV = sys.argv[1], h.load_env(sys.argv[2])
B = ENV["COVSHIP_TEST_BUCKET"]
c = h.Checks()
s3 = h.botocore_client(ENV)


def main(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    f = os.path.join(tmp, "b.tar.gz")
    with open(f, "wb") as fh:
        fh.write(os.urandom(100_000))
    sha = h.sha256_file(f)
    proxy = h.FaultProxy(ENV, [], tmp, tls=(cert, key))
    pre = h.unique_prefix("tls")
    url = "s3://%s/%s" % (B, pre)
    spool = os.path.join(tmp, "spool")
    os.mkdir(spool)

    def deliver(name, **extra):
        env = h.child_env(ENV, AWS_ENDPOINT_URL=proxy.endpoint, **extra)
        return subprocess.run([S3TOOL, "deliver", url, name, f, sha, spool], env=env,
                              capture_output=True, timeout=60)

    try:
        c.check(proxy.endpoint.startswith("https://"), "the proxy speaks https")
        r = deliver("verify.tar.gz")
        err = r.stderr.decode().strip()
        c.check(r.returncode == 2 and "certificate" in err.lower() and err.count("\n") == 0,
                "default: self-signed certificate refused, DEST_FATAL, one line (%s)" % err)
        r = deliver("ca.tar.gz", S3TOOL_CA_BUNDLE=cert)
        c.check(r.returncode == 0, "--ca-bundle: delivered (%s)" % r.stderr.decode().strip())
        r = deliver("insecure.tar.gz", S3TOOL_INSECURE=1)
        c.check(r.returncode == 0 and b"NOT verified" in r.stderr,
                "--insecure: delivered, with a warning (%s)" % r.stderr.decode().strip())
        r = deliver("missing.tar.gz", S3TOOL_CA_BUNDLE=os.path.join(tmp, "nope.pem"))
        c.check(r.returncode == 2 and b"--ca-bundle" in r.stderr, "missing CA file: configuration error")
    finally:
        proxy.stop()
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=B, Prefix=pre).get("Contents", []))
    c.check(keys == [pre + "ca.tar.gz", pre + "insecure.tar.gz"], "only the verified-or-insecure uploads landed")
    c.check(all(h.sha256_object(s3, B, k) == sha for k in keys), "uploads over TLS intact")


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="s3tls.")
    try:
        main(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.exit()
