#!/usr/bin/python3
"""Credential sources against metadata endpoints served on loopback by this
test (through the test-only overrides COVSHIP_TEST_ECS_CREDENTIALS_HOST and
COVSHIP_TEST_IMDS_ENDPOINT): ECS container credentials (relative and full
URI, token file re-read, CR/LF refused), IMDSv2 (and the v1 fallback rules),
refresh ahead of Expiration and after 403 ExpiredToken, the environment and
shared-file sources. Every S3 call goes to the real radosgw, so credentials
that were not really used would fail.
Usage: test_s3_credentials.py S3TOOL ENVFILE"""
import datetime
import http.server
import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3helpers as h  # noqa: E402

S3TOOL, ENV = sys.argv[1], h.load_env(sys.argv[2])
B = ENV["COVSHIP_TEST_BUCKET"]
c = h.Checks()


class Meta:
    """State of the fake ECS/IMDS endpoint; reset per scenario."""

    def __init__(self):
        self.reset()

    def reset(self, **kw):
        self.requests = []          # (method, path, headers dict)
        self.expires_in = 3600      # seconds from now
        self.secret = ENV["AWS_SECRET_ACCESS_KEY"]
        self.want_auth = None       # required Authorization for ECS
        self.token_file = None      # rotate it after each ECS fetch
        self.imds_token_status = 200
        self.__dict__.update(kw)

    def creds(self):
        exp = datetime.datetime.utcnow() + datetime.timedelta(seconds=self.expires_in)
        return json.dumps({"AccessKeyId": ENV["AWS_ACCESS_KEY_ID"], "SecretAccessKey": self.secret,
                           "Token": "session-token-%d" % len(self.requests),
                           "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "RoleArn": "arn:aws:iam::123456789012:role/covship", "Code": "Success"})


META = Meta()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        META.requests.append(("PUT", self.path, dict(self.headers)))
        if self.path == "/latest/api/token":
            if META.imds_token_status != 200:
                return self.send(META.imds_token_status, "")
            if self.headers.get("X-aws-ec2-metadata-token-ttl-seconds") != "21600":
                return self.send(400, "missing ttl")
            return self.send(200, "imds-session-token")
        self.send(404, "")

    def do_GET(self):
        META.requests.append(("GET", self.path, dict(self.headers)))
        if self.path.startswith("/latest/"):
            tok = self.headers.get("X-aws-ec2-metadata-token")
            if META.imds_token_status == 200 and tok != "imds-session-token":
                return self.send(401, "")
            if self.path == "/latest/meta-data/iam/security-credentials/":
                return self.send(200, "covship-role")
            if self.path == "/latest/meta-data/iam/security-credentials/covship-role":
                return self.send(200, META.creds())
            return self.send(404, "")
        if META.want_auth is not None and self.headers.get("Authorization") != META.want_auth:
            return self.send(401, "bad token")
        body = META.creds()
        if META.token_file:  # the orchestrator rotates the token
            n = len(META.requests)
            META.want_auth = "rotated-token-%d" % n
            with open(META.token_file, "w") as f:
                f.write(META.want_auth + "\n")
        self.send(200, body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def run(tmp, extra, *args, repeat=1, sleep_ms=0, endpoint=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("COVSHIP_")}
    env.update({"HOME": tmp, "AWS_ENDPOINT_URL": endpoint or ENV["COVSHIP_TEST_S3_ENDPOINT"],
                "AWS_REGION": ENV["AWS_REGION"], "AWS_EC2_METADATA_DISABLED": "true",
                "COVSHIP_S3_RETRY_BASE_MS": "20", "S3TOOL_REPEAT": str(repeat),
                "S3TOOL_SLEEP_MS": str(sleep_ms)})
    env.update(extra)
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run([S3TOOL] + list(args or ("list", B, "nothing-here/")), env=env,
                          capture_output=True, timeout=60)


def main(tmp):
    srv = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    host = "127.0.0.1:%d" % srv.server_address[1]
    ecs = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc",
           "COVSHIP_TEST_ECS_CREDENTIALS_HOST": host}

    # ECS relative URI: used, cached while far from Expiration.
    META.reset()
    r = run(tmp, ecs, repeat=2)
    c.check(r.returncode == 0, "ecs: list with container credentials (%s)" % r.stderr.decode().strip())
    c.check(len(META.requests) == 1, "ecs: fetched once for two requests (got %d)" % len(META.requests))
    c.check(META.requests and META.requests[0][1] == "/v2/credentials/abc", "ecs: relative URI path")
    # Control: a wrong secret from the endpoint fails at S3 → they were used.
    META.reset(secret=ENV["AWS_SECRET_ACCESS_KEY"][:-1] + "X")
    r = run(tmp, ecs)
    c.check(r.returncode == 2 and b"SignatureDoesNotMatch" in r.stderr,
            "ecs control: a wrong secret from the endpoint is rejected by S3")
    c.check(META.secret.encode() not in r.stderr + r.stdout, "ecs control: secret not printed")

    # Refresh ahead of Expiration (15 min window).
    META.reset(expires_in=15 * 60 + 2)
    r = run(tmp, ecs, repeat=2, sleep_ms=3000)
    c.check(r.returncode == 0 and len(META.requests) == 2,
            "refresh: credentials near Expiration fetched again (%d fetches)" % len(META.requests))

    # Token file re-read on every fetch; wins over the variable.
    tokfile = os.path.join(tmp, "token")
    with open(tokfile, "w") as f:
        f.write("first-token\n")
    META.reset(expires_in=15 * 60 + 1, want_auth="first-token", token_file=tokfile)
    env = dict(ecs, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=tokfile,
               AWS_CONTAINER_AUTHORIZATION_TOKEN="env-token-loses")
    r = run(tmp, env, repeat=2, sleep_ms=2000)
    auths = [rq[2].get("Authorization") for rq in META.requests]
    c.check(r.returncode == 0, "token file: both requests succeed (%s)" % r.stderr.decode().strip())
    c.check(auths == ["first-token", "rotated-token-1"], "token file: rotated token re-read (%s)" % auths)

    # The variable, when there is no file; CR/LF refused.
    META.reset(want_auth="env-token")
    r = run(tmp, dict(ecs, AWS_CONTAINER_AUTHORIZATION_TOKEN="env-token"))
    c.check(r.returncode == 0, "token variable: sent as Authorization")
    META.reset()
    r = run(tmp, dict(ecs, AWS_CONTAINER_AUTHORIZATION_TOKEN="abc\r\nX-Injected: 1"))
    c.check(r.returncode == 2 and b"CR or LF" in r.stderr and not META.requests,
            "token with CR/LF: refused before any request (%s)" % r.stderr.decode().strip())

    # FULL_URI: loopback http allowed, other plain-http hosts refused.
    META.reset()
    r = run(tmp, {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://%s/full/creds" % host})
    c.check(r.returncode == 0 and META.requests and META.requests[0][1] == "/full/creds",
            "full uri: http to loopback allowed")
    r = run(tmp, {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://10.1.2.3/creds"})
    c.check(r.returncode == 2 and b"plain http is allowed only" in r.stderr,
            "full uri: http to 10.1.2.3 refused with a clear line")
    # A host name that merely starts with "127." may resolve anywhere.
    r = run(tmp, {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1.example.com/creds"})
    c.check(r.returncode == 2 and b"plain http is allowed only" in r.stderr,
            "full uri: http to 127.0.0.1.example.com refused (%s)" % r.stderr.decode().strip())

    # IMDSv2: token PUT, role, credentials, each GET with the token.
    imds = {"COVSHIP_TEST_IMDS_ENDPOINT": "http://" + host, "AWS_EC2_METADATA_DISABLED": None}
    META.reset()
    r = run(tmp, imds)
    seq = [(m, p) for m, p, _ in META.requests]
    c.check(r.returncode == 0, "imdsv2: list succeeds (%s)" % r.stderr.decode().strip())
    c.check(seq == [("PUT", "/latest/api/token"), ("GET", "/latest/meta-data/iam/security-credentials/"),
                    ("GET", "/latest/meta-data/iam/security-credentials/covship-role")],
            "imdsv2: token, role, credentials (%s)" % seq)
    # IMDSv1 fallback only after 403/404/405, never when v1 is disabled.
    META.reset(imds_token_status=403)
    r = run(tmp, imds)
    c.check(r.returncode == 0 and len(META.requests) == 3, "imdsv1: fallback after 403 on the token PUT")
    META.reset(imds_token_status=403)
    r = run(tmp, dict(imds, AWS_EC2_METADATA_V1_DISABLED="true"))
    c.check(r.returncode != 0 and len(META.requests) == 1, "imdsv1: not used when AWS_EC2_METADATA_V1_DISABLED")
    META.reset(imds_token_status=500)
    r = run(tmp, imds)
    c.check(r.returncode != 0 and all(m == "PUT" for m, _, _ in META.requests),
            "imdsv1: no fallback after a 500")

    # 403 ExpiredToken → credentials fetched again once, request retried.
    proxy = h.FaultProxy(ENV, [{"action": "expired_token", "method": "GET", "count": 1}], tmp)
    try:
        META.reset()
        r = run(tmp, ecs, endpoint=proxy.endpoint)
        c.check(r.returncode == 0 and len(META.requests) == 2,
                "expired token: refreshed once and retried (%d fetches)" % len(META.requests))
    finally:
        proxy.stop()

    # Environment first: the endpoint is not asked.
    META.reset()
    r = run(tmp, dict(ecs, AWS_ACCESS_KEY_ID=ENV["AWS_ACCESS_KEY_ID"],
                      AWS_SECRET_ACCESS_KEY=ENV["AWS_SECRET_ACCESS_KEY"]))
    c.check(r.returncode == 0 and not META.requests, "order: environment wins over ECS")

    # Shared credentials file with a profile, before ECS.
    cred = os.path.join(tmp, "credentials")
    with open(cred, "w") as f:
        f.write("[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n"
                "[ci]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (
                    ENV["AWS_ACCESS_KEY_ID"], ENV["AWS_SECRET_ACCESS_KEY"]))
    META.reset()
    r = run(tmp, dict(ecs, AWS_SHARED_CREDENTIALS_FILE=cred, AWS_PROFILE="ci"))
    c.check(r.returncode == 0 and not META.requests, "files: profile [ci] used, ECS not asked")
    r = run(tmp, dict(ecs, AWS_SHARED_CREDENTIALS_FILE=cred))
    c.check(r.returncode == 2 and b"InvalidAccessKeyId" in r.stderr, "files control: [default] has bad keys")
    # The config file's [profile NAME] when the credentials file lacks it.
    conf = os.path.join(tmp, "config")
    with open(conf, "w") as f:
        f.write("[profile cfg]\nregion = us-east-1\naws_access_key_id = %s\n"
                "aws_secret_access_key = %s\n" % (ENV["AWS_ACCESS_KEY_ID"], ENV["AWS_SECRET_ACCESS_KEY"]))
    META.reset()
    r = run(tmp, dict(ecs, AWS_SHARED_CREDENTIALS_FILE=cred, AWS_CONFIG_FILE=conf, AWS_PROFILE="cfg"))
    c.check(r.returncode == 0 and not META.requests,
            "files: [profile cfg] of the config file used (%s)" % r.stderr.decode().strip())
    # A named profile that does not exist is an error, as in the SDKs: not
    # a silent fall-through to the task role (which would work here).
    META.reset()
    r = run(tmp, dict(ecs, AWS_SHARED_CREDENTIALS_FILE=cred, AWS_CONFIG_FILE=conf, AWS_PROFILE="typo"))
    c.check(r.returncode == 2 and b"'typo'" in r.stderr and not META.requests,
            "files: unknown AWS_PROFILE refused, ECS not asked (%s)" % r.stderr.decode().strip())

    # Nothing configured: one clear line, exit 2.
    r = run(tmp, {})
    c.check(r.returncode == 2 and b"no AWS credentials found" in r.stderr,
            "none: a clear line (%s)" % r.stderr.decode().strip())
    srv.shutdown()


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="s3creds.")
    try:
        main(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.exit()
