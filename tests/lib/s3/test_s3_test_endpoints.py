#!/usr/bin/python3
"""A release binary cannot be pointed at an arbitrary host for credentials
(issue 13). The test-only endpoint overrides (COVSHIP_TEST_ECS_CREDENTIALS_HOST,
COVSHIP_TEST_IMDS_ENDPOINT) are honoured for loopback addresses only, so
the test sets them to a non-loopback address where a listener counts the
connections it accepts, and asserts that none arrives. The same goes for
the smuggling routes: user info in the override ("127.0.0.1@host"), a
RELATIVE_URI that is not a path ("@host/..."), a plain-http FULL_URI.

It runs in a network namespace of its own (unshare -n) holding only the
loopback interface, with 10.254.0.1 (not loopback) added to it: nothing can
leave the machine, whatever covship does. Controls: the same overrides on
127.0.0.2 are honoured (that listener counts the request, with the
container Authorization token), and the SDKs' own
AWS_EC2_METADATA_SERVICE_ENDPOINT reaches the non-loopback listener, so a
count of 0 there means that no connection was attempted. Also the SDKs'
AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 (fd00:ec2::254, unreachable
here: "no AWS credentials found") and a bad mode (refused).
Usage: test_s3_test_endpoints.py COVSHIP"""
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
OTHER = "10.254.0.1"    # not loopback: stands for any host on the network
LOOP2 = "127.0.0.2"
c = h.Checks()


class Listener:
    """An ECS/IMDS look-alike on addr; counts accepted connections and
    remembers the Authorization headers it saw."""

    def __init__(self, addr):
        outer = self
        self.accepts = 0
        self.auth = []
        self.paths = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, body):
                outer.auth.append(self.headers.get("Authorization"))
                outer.paths.append(self.path)
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self):
                self.reply("imds-token")

            def do_GET(self):
                if self.path.endswith("/security-credentials/"):
                    return self.reply("role")
                self.reply(json.dumps({"AccessKeyId": "AKIDLISTENER",
                                       "SecretAccessKey": "listener-secret", "Token": "t",
                                       "Expiration": "2099-01-01T00:00:00Z"}))

        class Server(http.server.ThreadingHTTPServer):
            def verify_request(self, request, client_address):
                outer.accepts += 1
                return True

        self.srv = Server((addr, 0), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.hostport = "%s:%d" % (addr, self.srv.server_address[1])

    def reset(self):
        self.accepts = 0
        self.auth = []
        self.paths = []


def run(tmp, **extra):
    """covship pull with no credentials but those the variables lead to;
    S3 itself is a closed loopback port (the credentials come first)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COVSHIP_"))}
    env.update({"HOME": tmp, "AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": "secret-container-token",
                "COVSHIP_S3_MAX_ATTEMPTS": "1"})
    env.update({k: v for k, v in extra.items() if v is not None})
    for k in [k for k, v in extra.items() if v is None]:
        env.pop(k, None)
    r = subprocess.run([COVSHIP, "pull", "s3://bucket/p", "--out", os.path.join(tmp, "out"),
                        "--endpoint", "http://127.0.0.1:9", "--path-style"], env=env,
                       capture_output=True, timeout=60)
    return r.returncode, r.stderr.decode(errors="replace").strip()


def main(tmp):
    other, loop2 = Listener(OTHER), Listener(LOOP2)
    refused = [
        ("ECS host override", dict(COVSHIP_TEST_ECS_CREDENTIALS_HOST=other.hostport,
                                   AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/creds"),
         "COVSHIP_TEST_ECS_CREDENTIALS_HOST is a test-only override"),
        ("ECS host override with loopback user info",
         dict(COVSHIP_TEST_ECS_CREDENTIALS_HOST="127.0.0.1:80@" + other.hostport,
              AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/creds"),
         "COVSHIP_TEST_ECS_CREDENTIALS_HOST is a test-only override"),
        ("IMDS override", dict(COVSHIP_TEST_IMDS_ENDPOINT="http://" + other.hostport,
                               AWS_EC2_METADATA_DISABLED=None),
         "COVSHIP_TEST_IMDS_ENDPOINT is a test-only override"),
        ("IMDS override with loopback user info",
         dict(COVSHIP_TEST_IMDS_ENDPOINT="http://127.0.0.1@" + other.hostport,
              AWS_EC2_METADATA_DISABLED=None),
         "COVSHIP_TEST_IMDS_ENDPOINT is a test-only override"),
        ("RELATIVE_URI that is not a path",
         dict(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="@%s/creds" % other.hostport),
         "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path"),
        ("plain-http FULL_URI to a non-loopback host",
         dict(AWS_CONTAINER_CREDENTIALS_FULL_URI="http://%s/creds" % other.hostport),
         "plain http is allowed only"),
    ]
    for what, env, msg in refused:
        other.reset()
        rc, err = run(tmp, **env)
        c.check(rc != 0 and msg in err and err.count("\n") == 0 and other.accepts == 0,
                "%s at %s: refused with one line, %d connection(s) there (%s)"
                % (what, OTHER, other.accepts, err))

    # Controls: honoured on loopback (the listener sees the token a release
    # binary would otherwise have sent anywhere) ...
    loop2.reset()
    rc, err = run(tmp, COVSHIP_TEST_ECS_CREDENTIALS_HOST=loop2.hostport,
                  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/creds")
    c.check(loop2.accepts >= 1 and loop2.auth[:1] == ["secret-container-token"],
            "control: the ECS override on %s is honoured, with the token (%d connection(s))"
            % (LOOP2, loop2.accepts))
    loop2.reset()
    rc, err = run(tmp, COVSHIP_TEST_IMDS_ENDPOINT="http://" + loop2.hostport,
                  AWS_EC2_METADATA_DISABLED=None)
    c.check(loop2.accepts >= 3, "control: the IMDS override on %s is honoured (%d connection(s))"
            % (LOOP2, loop2.accepts))
    # ... and the non-loopback listener is reachable and counts.
    other.reset()
    rc, err = run(tmp, AWS_EC2_METADATA_SERVICE_ENDPOINT="http://%s/" % other.hostport,
                  AWS_EC2_METADATA_DISABLED=None)
    c.check(other.accepts >= 3 and other.paths[:1] == ["/latest/api/token"],
            "control: AWS_EC2_METADATA_SERVICE_ENDPOINT (the SDKs' variable, trailing '/' "
            "dropped) reaches %s (%d connection(s), %s)" % (OTHER, other.accepts, other.paths[:1]))

    # The SDKs' IPv6 endpoint mode; nothing can leave this namespace.
    rc, err = run(tmp, AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE="IPv6",
                  AWS_EC2_METADATA_DISABLED=None)
    c.check(rc != 0 and "no AWS credentials found" in err
            and "http://[fd00:ec2::254]/latest/api/token" in err,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 asks fd00:ec2::254 (%s)" % err)
    rc, err = run(tmp, AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE="IPv5",
                  AWS_EC2_METADATA_DISABLED=None)
    c.check(rc != 0 and "must be IPv4 or IPv6" in err, "a bad endpoint mode is refused (%s)" % err)
    other.srv.shutdown()
    loop2.srv.shutdown()


def in_own_netns():
    """Re-run this script in a new network namespace with lo up and OTHER
    on it; returns False in the parent (after the child ran)."""
    if os.environ.get("S3TEST_IN_NETNS") == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "addr", "add", OTHER + "/32", "dev", "lo"], check=True)
        return True
    r = subprocess.run(["unshare", "--net", sys.executable] + sys.argv,
                       env=dict(os.environ, S3TEST_IN_NETNS="1"))
    sys.exit(r.returncode)


if __name__ == "__main__":
    in_own_netns()
    tmp = tempfile.mkdtemp(prefix="s3testep.")
    try:
        main(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.exit()
