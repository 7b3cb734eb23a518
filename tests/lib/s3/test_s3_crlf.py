#!/usr/bin/python3
"""A session token (or key) holding CR or LF is refused before signing,
whatever its source: the environment, the shared credentials file, the ECS
container endpoint's JSON, IMDS's JSON (issue 13). Sent, it would inject
header lines into every S3 request. The S3 endpoint here is a loopback
listener that counts connections: a refused token reaches it never.
Control: the same sources with the token's line break removed do reach it,
with the token in x-amz-security-token.
Usage: test_s3_crlf.py COVSHIP"""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3helpers as h  # noqa: E402

COVSHIP = sys.argv[1]
c = h.Checks()


class State:
    token = ""
    s3_accepts = 0
    s3_tokens = []


class Meta(http.server.BaseHTTPRequestHandler):
    """ECS and IMDS on one loopback port, handing out State.token."""

    def log_message(self, *a):
        pass

    def send(self, body):
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        self.send("imds-token")

    def do_GET(self):
        if self.path.endswith("/security-credentials/"):
            return self.send("role")
        self.send(json.dumps({"AccessKeyId": "AKIDEXAMPLE", "SecretAccessKey": "secret",
                              "Token": State.token, "Expiration": "2099-01-01T00:00:00Z"}))


class FakeS3(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        State.s3_tokens.append(self.headers.get("x-amz-security-token"))
        body = (b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>'
                b'<IsTruncated>false</IsTruncated></ListBucketResult>')
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class CountingServer(http.server.ThreadingHTTPServer):
    def verify_request(self, request, client_address):
        State.s3_accepts += 1
        return True


def serve(cls, handler):
    srv = cls(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main(tmp):
    meta = serve(http.server.ThreadingHTTPServer, Meta)
    s3 = serve(CountingServer, FakeS3)
    meta_hp = "127.0.0.1:%d" % meta.server_address[1]
    credfile = os.path.join(tmp, "credentials")

    def run(source, token):
        State.token = token
        State.s3_accepts, State.s3_tokens = 0, []
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COVSHIP_"))}
        env.update({"HOME": tmp, "AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
                    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                    "AWS_EC2_METADATA_DISABLED": "true", "COVSHIP_S3_MAX_ATTEMPTS": "1"})
        if source == "environment":
            env.update({"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
                        "AWS_SESSION_TOKEN": token})
        elif source == "shared file":
            with open(credfile, "w") as f:
                f.write("[default]\naws_access_key_id = AKIDEXAMPLE\n"
                        "aws_secret_access_key = secret\naws_session_token = %s\n" % token)
            env["AWS_SHARED_CREDENTIALS_FILE"] = credfile
        elif source == "ECS JSON":
            env.update({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/creds",
                        "COVSHIP_TEST_ECS_CREDENTIALS_HOST": meta_hp})
        else:
            env.update({"COVSHIP_TEST_IMDS_ENDPOINT": "http://" + meta_hp})
            del env["AWS_EC2_METADATA_DISABLED"]
        r = subprocess.run([COVSHIP, "pull", "s3://bucket/p", "--out", os.path.join(tmp, "out"),
                            "--endpoint", "http://127.0.0.1:%d" % s3.server_address[1],
                            "--path-style"], env=env, capture_output=True, timeout=60)
        return r.returncode, r.stderr.decode(errors="replace").strip()

    # A file is read line by line: a CR inside the value is what it can hold.
    cases = [("environment", "tok\nX-Injected: 1"), ("environment", "tok\rX"),
             ("shared file", "tok\rX-Injected: 1"), ("ECS JSON", "tok\r\nX-Injected: 1"),
             ("IMDS JSON", "tok\nX-Injected: 1")]
    for source, token in cases:
        rc, err = run(source, token)
        c.check(rc != 0 and "CR or LF" in err and err.count("\n") == 0 and State.s3_accepts == 0,
                "%s token %r: refused before signing, S3 never reached (%s)" % (source, token, err))
        # Control: the same source without the line break reaches S3 with it.
        clean = token.replace("\r", "").replace("\n", "")
        rc, err = run(source, clean)
        c.check(State.s3_accepts >= 1 and State.s3_tokens[:1] == [clean],
                "control: %s token without CR/LF is sent to S3 (%s)" % (source, err))
    meta.shutdown()
    s3.shutdown()


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="s3crlf.")
    try:
        main(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.exit()
