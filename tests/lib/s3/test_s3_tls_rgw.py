#!/usr/bin/python3
"""TLS the way the AWS CLI does it, against radosgw's own TLS (beast
ssl_endpoint, a second radosgw on the fixture's cluster) with a test CA made
here: AWS_CA_BUNDLE is honoured, --ca-bundle wins over it, without a CA the
server is refused, and the pull side follows the same rules. --insecure
relaxes the S3 endpoint only: an https credential endpoint
(AWS_CONTAINER_CREDENTIALS_FULL_URI) with an untrusted certificate is
refused even with --insecure; control: the same endpoint with its
certificate in AWS_CA_BUNDLE hands out the credentials.
Usage: test_s3_tls_rgw.py S3TOOL ENVFILE COVSHIP"""
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3helpers as h  # noqa: E402

S3TOOL, ENVFILE, COVSHIP = sys.argv[1], sys.argv[2], sys.argv[3]
ENV = h.load_env(ENVFILE)
B = ENV["COVSHIP_TEST_BUCKET"]
c = h.Checks()
s3 = h.botocore_client(ENV)


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


def make_ca(d, name):
    key, pem = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
            "/CN=covship test " + name, "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign", "-keyout", key, "-out", pem)
    return pem, key


def make_server_cert(d, name, ca):
    """A certificate for IP 127.0.0.1 signed by ca (pem, key)."""
    key, csr, pem = (os.path.join(d, name + s) for s in (".key", ".csr", ".pem"))
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", key,
            "-out", csr)
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
            "-days", "1", "-extfile", ext, "-out", pem)
    return pem, key


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RgwTls:
    """A second radosgw on the fixture's cluster, serving S3 over its own
    TLS (beast ssl_endpoint) only; stopped by its PID."""

    def __init__(self, d, cert):
        fixture_conf = os.path.join(os.path.dirname(os.path.abspath(ENVFILE)), "ceph.conf")
        with open(fixture_conf) as f:
            glob = f.read().split("[client.rgw]")[0]
        self.port = free_port()
        conf = os.path.join(d, "ceph.conf")
        with open(conf, "w") as f:
            f.write(glob + "[client.rgwtls]\n"
                    "run dir = {d}\npid file = {d}/rgw.pid\nadmin socket = {d}/rgw.asok\n"
                    "log file = {d}/rgw.log\nrgw data = {d}\nrgw dns name = 127.0.0.1\n"
                    "rgw frontends = beast ssl_endpoint=127.0.0.1:{p} ssl_certificate={c} "
                    "ssl_private_key={k}\n".format(d=d, p=self.port, c=cert[0], k=cert[1]))
        self.out = open(os.path.join(d, "rgw.out"), "wb")
        self.proc = subprocess.Popen(["radosgw", "-c", conf, "-n", "client.rgwtls", "-f"],
                                     stdout=self.out, stderr=subprocess.STDOUT)
        self.endpoint = "https://127.0.0.1:%d" % self.port

    def wait_ready(self, ca_pem):
        ctx = ssl.create_default_context(cafile=ca_pem)
        for _ in range(300):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                        t.sendall(b"GET / HTTP/1.0\r\n\r\n")
                        if t.recv(12).startswith(b"HTTP/1.1 200"):
                            return True
            except OSError:
                pass
            if self.proc.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


class CredServer:
    """AWS_CONTAINER_CREDENTIALS_FULL_URI over https on loopback, answering
    the fixture's keys; counts the requests it got through TLS."""

    def __init__(self, cert):
        outer = self
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.requests += 1
                body = json.dumps({"AccessKeyId": ENV["AWS_ACCESS_KEY_ID"],
                                   "SecretAccessKey": ENV["AWS_SECRET_ACCESS_KEY"],
                                   "Token": "", "Expiration": "2099-01-01T00:00:00Z"}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.handle_error = lambda *a: None  # refused handshakes are the point
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert[0], cert[1])
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.uri = "https://127.0.0.1:%d/creds" % self.srv.server_address[1]

    def stop(self):
        self.srv.shutdown()


def main(tmp):
    ca = make_ca(tmp, "ca")
    other = make_ca(tmp, "other-ca")
    rgw = RgwTls(tmp, make_server_cert(tmp, "rgw", ca))
    cred = CredServer(make_server_cert(tmp, "cred", other))
    f = os.path.join(tmp, "b.tar.gz")
    with open(f, "wb") as fh:
        fh.write(os.urandom(50_000))
    sha = h.sha256_file(f)
    pre = h.unique_prefix("tlsrgw")
    url = "s3://%s/%s" % (B, pre)
    spool = os.path.join(tmp, "spool")
    os.mkdir(spool)

    def env_for(creds=True, **extra):
        e = h.child_env(ENV, AWS_ENDPOINT_URL=rgw.endpoint, COVSHIP_S3_MAX_ATTEMPTS=1,
                        AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_CONFIG_FILE="/dev/null",
                        **extra)
        if not creds:
            del e["AWS_ACCESS_KEY_ID"], e["AWS_SECRET_ACCESS_KEY"]
        return e

    def deliver(name, **kw):
        return subprocess.run([S3TOOL, "deliver", url, name, f, sha, spool], env=env_for(**kw),
                              capture_output=True, timeout=120)

    def pull(args, **kw):
        return subprocess.run([COVSHIP, "pull", "s3://%s/%sempty" % (B, pre), "--out",
                               os.path.join(tmp, "out"), "--path-style"] + args,
                              env=env_for(**kw), capture_output=True, timeout=120)

    def err(r):
        return r.stderr.decode(errors="replace").strip()

    try:
        c.check(rgw.wait_ready(ca[0]), "radosgw serves S3 over its own TLS on %s" % rgw.endpoint)
        r = deliver("env-ca.tar.gz", AWS_CA_BUNDLE=ca[0])
        c.check(r.returncode == 0, "AWS_CA_BUNDLE: delivered over verified TLS (%s)" % err(r))
        r = deliver("no-ca.tar.gz")
        c.check(r.returncode == 2 and "certificate" in err(r).lower() and err(r).count("\n") == 0,
                "no CA bundle: the test CA's certificate refused, one line (%s)" % err(r))
        r = deliver("opt-wins.tar.gz", S3TOOL_CA_BUNDLE=ca[0], AWS_CA_BUNDLE=other[0])
        c.check(r.returncode == 0, "--ca-bundle wins over AWS_CA_BUNDLE (%s)" % err(r))
        r = deliver("opt-wins-bad.tar.gz", S3TOOL_CA_BUNDLE=other[0], AWS_CA_BUNDLE=ca[0])
        c.check(r.returncode == 2 and "certificate" in err(r).lower(),
                "control: a wrong --ca-bundle is not rescued by AWS_CA_BUNDLE (%s)" % err(r))
        r = deliver("missing.tar.gz", AWS_CA_BUNDLE=os.path.join(tmp, "nope.pem"))
        c.check(r.returncode == 2 and "AWS_CA_BUNDLE" in err(r),
                "AWS_CA_BUNDLE naming a missing file: configuration error (%s)" % err(r))

        # The pull side builds its S3 options the same way.
        r = pull([], AWS_CA_BUNDLE=ca[0])
        c.check(b"no bundles" in r.stderr and b"certificate" not in r.stderr.lower(),
                "pull + AWS_CA_BUNDLE: listed over verified TLS (%s)" % err(r))
        r = pull([])
        c.check(r.returncode != 0 and "certificate" in err(r).lower(),
                "pull without a CA: refused (%s)" % err(r))

        # --insecure is for the S3 endpoint only.
        r = deliver("insecure.tar.gz", S3TOOL_INSECURE=1)
        c.check(r.returncode == 0 and b"NOT verified" in r.stderr,
                "--insecure: the S3 endpoint unverified, with a warning (%s)" % err(r))
        r = deliver("insecure-cred.tar.gz", creds=False, S3TOOL_INSECURE=1,
                    AWS_CONTAINER_CREDENTIALS_FULL_URI=cred.uri)
        c.check(r.returncode != 0 and "certificate" in err(r).lower() and cred.requests == 0,
                "--insecure: the untrusted https credential endpoint still refused, no request "
                "reached it (%s)" % err(r))
        r = pull(["--insecure"], creds=False, AWS_CONTAINER_CREDENTIALS_FULL_URI=cred.uri)
        c.check(r.returncode != 0 and "certificate" in err(r).lower() and cred.requests == 0,
                "pull --insecure: the credential endpoint still refused (%s)" % err(r))
        r = deliver("cred-ca.tar.gz", creds=False, S3TOOL_INSECURE=1, AWS_CA_BUNDLE=other[0],
                    AWS_CONTAINER_CREDENTIALS_FULL_URI=cred.uri)
        c.check(r.returncode == 0 and cred.requests == 1,
                "control: with its CA in AWS_CA_BUNDLE the credential endpoint answers and "
                "its credentials sign the upload (%s)" % err(r))
    finally:
        rgw.stop()
        cred.stop()
    keys = sorted(o["Key"][len(pre):] for o in
                  s3.list_objects_v2(Bucket=B, Prefix=pre).get("Contents", []))
    c.check(keys == ["cred-ca.tar.gz", "env-ca.tar.gz", "insecure.tar.gz", "opt-wins.tar.gz"],
            "only the verified (or --insecure) uploads landed: %s" % keys)
    c.check(all(h.sha256_object(s3, B, pre + k) == sha for k in keys), "uploads over TLS intact")


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="s3tlsrgw.")
    try:
        main(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.exit()
