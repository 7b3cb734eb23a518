#!/usr/bin/python3
"""Compare our SigV4 (s3sign_cli) with botocore's S3SigV4Auth on request
shapes that libcurl's built-in signer gets wrong. Usage: test_sigv4_botocore.py S3SIGN_CLI"""
import datetime
import hashlib
import subprocess
import sys
from unittest import mock
from urllib.parse import quote

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CLI = sys.argv[1]
AK, SK = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
WHEN = datetime.datetime(2026, 11, 25, 9, 30, 15)
AMZDATE = "20261125T093015Z"


def enc(s):
    return quote(s, safe="-_.~")


def botocore_auth(method, host, key, params, headers, body, region, token):
    url = "http://%s/%s" % (host, quote(key, safe="/~"))
    if params:
        url += "?" + "&".join(enc(k) + ("=" + enc(v) if v is not None else "")
                              for k, v in params)
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    creds = Credentials(AK, SK, token)
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = WHEN
        S3SigV4Auth(creds, "s3", region).add_auth(req)
    return req.headers["Authorization"]


def ours(method, host, key, params, headers, body, region, token):
    payload = hashlib.sha256(body).hexdigest()
    args = [CLI, method, "/" + key, AMZDATE, region, AK, SK, payload]
    hdrs = [("host", host), ("x-amz-date", AMZDATE), ("x-amz-content-sha256", payload)]
    if token:
        hdrs.append(("x-amz-security-token", token))
    for k, v in list(headers) + hdrs:
        args += ["h", "%s:%s" % (k, v)]
    for k, v in params:
        args += ["q", k if v is None else "%s=%s" % (k, v)]
    return subprocess.run(args, check=True, capture_output=True).stdout.decode().strip()


CASES = [
    ("GET", "b/plain.tar.gz", [], [], b"", None),
    ("PUT", "b/key with spaces.tar.gz", [], [("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==")], b"", None),
    ("PUT", "b/a+b=c%d~e", [], [], b"hello", None),
    ("GET", "b/unicod\u00e9/\u65e5\u672c/\U0001F600", [], [], b"", None),
    ("GET", "b/double//slash/", [], [], b"", None),
    ("GET", "b/", [("prefix", "a/b/"), ("list-type", "2"), ("delimiter", "/")], [], b"", None),
    ("GET", "b/", [("list-type", "2"), ("continuation-token", "1a+b/c==xyz"), ("prefix", "p p")], [], b"", None),
    ("POST", "b/k", [("uploads", None)], [], b"", None),
    ("PUT", "b/k", [("uploadId", "2~abc+/="), ("partNumber", "3")], [], b"x" * 100, None),
    ("DELETE", "b/k", [("uploadId", "xyz")], [], b"", "FwoGZXIvYXdzEJr//////////+token/with=chars"),
    ("PUT", "b/k", [], [("x-amz-meta-b", "2"), ("x-amz-meta-a", "  spaced   value "),
                        ("If-None-Match", "*"), ("x-amz-checksum-sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")],
     b"", "tok"),
    ("HEAD", "b/k", [("versionId", ""), ("a", None), ("A", "1")], [], b"", None),
]


def main():
    failed = 0
    region = "eu-west-3"
    for i, (m, key, params, headers, body, token) in enumerate(CASES):
        host = "127.0.0.1:9000"
        want = botocore_auth(m, host, key, params, headers, body, region, token)
        got = ours(m, host, key, params, headers, body, region, token)
        ok = want == got
        print("%s case %d %s %r" % ("ok  " if ok else "FAIL", i, m, key))
        if not ok:
            print("  botocore: " + want)
            print("  ours:     " + got)
            failed += 1
    # Control: the comparison catches a wrong secret.
    global SK
    good = SK
    SK = good[:-1] + "X"
    bad = ours("GET", "127.0.0.1:9000", "b/k", [], [], b"", region, None)
    SK = good
    if bad == botocore_auth("GET", "127.0.0.1:9000", "b/k", [], [], b"", region, None):
        print("FAIL control: a wrong secret produced the same signature")
        failed += 1
    print("%d of %d cases differ" % (failed, len(CASES)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
