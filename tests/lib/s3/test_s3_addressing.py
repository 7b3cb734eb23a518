#!/usr/bin/python3
"""Virtual-hosted vs path-style addressing, end to end through the real
binary: `covship pull` lists s3://BUCKET/p/ on an endpoint with a DNS name,
through libcurl's http_proxy (so no DNS is needed), and a server of this test
checks the Host header and path and re-signs the request with botocore. The
radosgw tests all use an IP endpoint, which is always path style.
Usage: test_s3_addressing.py COVSHIP"""
import datetime
import http.server
import os
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
from unittest import mock
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3helpers as h  # noqa: E402

COVSHIP = sys.argv[1]
AK, SK, REGION = "AKIDADDRESSING", "addressing/secret+key=", "eu-west-3"
ENDPOINT_HOST = "s3.example.test"
c = h.Checks()
SEEN = []  # (host header, path and query, signature accepted)

EMPTY = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult '
         'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><KeyCount>0</KeyCount>'
         '<IsTruncated>false</IsTruncated></ListBucketResult>')
DENIED = ("<Error><Code>SignatureDoesNotMatch</Code><Message>re-signed by botocore: "
          "no match</Message></Error>")


def botocore_signature(url, headers):
    """What botocore signs for this request, with our date and headers."""
    signed = re.search(r"SignedHeaders=([^,]+)", headers.get("Authorization", ""))
    names = signed.group(1).split(";") if signed else []
    when = datetime.datetime.strptime(headers.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ")
    req = AWSRequest(method="GET", url=url,
                     headers={k: headers[k] for k in names if k != "host" and k in headers})
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = when
        S3SigV4Auth(Credentials(AK, SK), "s3", REGION).add_auth(req)
    return req.headers["Authorization"]


class Proxy(http.server.BaseHTTPRequestHandler):
    """Gets absolute-URI requests (it is the http_proxy) and answers them."""

    def log_message(self, *a):
        pass

    def do_GET(self):
        u = urlsplit(self.path)
        host = self.headers.get("Host", "")
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        try:
            ok = botocore_signature(self.path, hdrs) == hdrs.get("authorization")
        except ValueError:
            ok = False
        SEEN.append((host, u.path + ("?" + u.query if u.query else ""), ok))
        body = (EMPTY if ok else DENIED).encode()
        self.send_response(200 if ok else 403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def pull(tmp, port, bucket, *extra, secret=SK):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "COVSHIP_")) and k.lower() not in ("no_proxy", "http_proxy")}
    env.update({"HOME": tmp, "AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_REGION": REGION, "COVSHIP_S3_MAX_ATTEMPTS": "1",
                "http_proxy": "http://127.0.0.1:%d" % port})
    del SEEN[:]
    out = os.path.join(tmp, "out")
    shutil.rmtree(out, ignore_errors=True)
    return subprocess.run([COVSHIP, "pull", "s3://%s/p" % bucket, "--out", out,
                           "--endpoint", "http://" + ENDPOINT_HOST] + list(extra),
                          env=env, capture_output=True, timeout=60)


def main(tmp):
    srv = Server(("127.0.0.1", 0), Proxy)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]

    # A DNS-safe bucket on a named endpoint: bucket.host/key.
    r = pull(tmp, port, "covship-vh")
    err = r.stderr.decode().strip()
    c.check(len(SEEN) == 1 and SEEN[0][0] == "covship-vh." + ENDPOINT_HOST,
            "virtual-hosted: Host is bucket.endpoint (%s)" % SEEN)
    c.check(SEEN and SEEN[0][1].startswith("/?") and "list-type=2" in SEEN[0][1],
            "virtual-hosted: the path does not name the bucket (%s)" % SEEN)
    c.check(SEEN and SEEN[0][2] and r.returncode == 1 and "no bundles" in err,
            "virtual-hosted: signature matches botocore's, listing accepted (%s)" % err)

    # --path-style: host/bucket/key, signed as such.
    r = pull(tmp, port, "covship-vh", "--path-style")
    err = r.stderr.decode().strip()
    c.check(SEEN and SEEN[0][0] == ENDPOINT_HOST and SEEN[0][1].startswith("/covship-vh/?"),
            "path style: Host is the endpoint, the path names the bucket (%s)" % SEEN)
    c.check(SEEN and SEEN[0][2] and "no bundles" in err, "path style: signature accepted (%s)" % err)

    # A bucket name with '.' cannot be a TLS host name label: path style.
    r = pull(tmp, port, "covship.vh")
    c.check(SEEN and SEEN[0][0] == ENDPOINT_HOST and SEEN[0][1].startswith("/covship.vh/?"),
            "dotted bucket: path style without --path-style (%s)" % SEEN)

    # Control: the server's re-signing does reject a wrong signature.
    r = pull(tmp, port, "covship-vh", secret=SK + "x")
    c.check(SEEN and not SEEN[0][2] and r.returncode == 1 and
            b"SignatureDoesNotMatch" in r.stderr,
            "control: a wrong secret is rejected by the botocore check (%s)" %
            r.stderr.decode().strip())
    srv.shutdown()


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="s3addr.")
    try:
        main(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.exit()
