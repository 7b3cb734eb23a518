#!/usr/bin/python3
"""No test sends a packet to a link-local or other non-loopback address
(issue 13): the suite's credential-less cases run under
`strace -f -e trace=connect`, and every connect() of every process they
start (the test, covship, s3tool, the servers) must go to 127.0.0.0/8, ::1
or a local socket (Unix, netlink; AF_UNSPEC only dissolves an association).

Credential-less cases run here: test_s3_credentials.py (every source but
the environment), test_s3_tls_rgw.py (the https credential endpoint),
test_s3_crlf.py (tokens from every source), and covship pull with no
credentials at all. A new test of a credential source belongs in SCRIPTS. test_s3_test_endpoints.py is not:
its control connects to a non-loopback address on purpose, inside a network
namespace of its own that holds only the loopback interface.

Also the "no AWS credentials found" line: with IMDS switched off, with an
IMDS that has no role (HTTP 404, or 403 as some proxies answer), never an
IMDS error. Control: the same credential-less pull without
AWS_EC2_METADATA_DISABLED, in a fresh network namespace (so that nothing
leaves the machine), shows a connect() to 169.254.169.254, which the check
flags.
Usage: test_s3_connect_loopback.py S3TOOL ENVFILE COVSHIP"""
import http.server
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import s3helpers as h  # noqa: E402

S3TOOL, ENVFILE, COVSHIP = sys.argv[1], sys.argv[2], sys.argv[3]
c = h.Checks()
SCRIPTS = [("test_s3_credentials.py", [S3TOOL, ENVFILE]),
           ("test_s3_tls_rgw.py", [S3TOOL, ENVFILE, COVSHIP]),
           ("test_s3_crlf.py", [COVSHIP])]

FAMILY = re.compile(r"sa_family=(AF_\w+)")
IPV4 = re.compile(r'inet_addr\("([^"]+)"\)')
IPV6 = re.compile(r'inet_pton\(AF_INET6, "([^"]+)"')
LOCAL_FAMILIES = {"AF_UNIX", "AF_LOCAL", "AF_NETLINK", "AF_UNSPEC"}


def connects(log):
    """(family, address) of every connect() in an strace -f log."""
    out = []
    with open(log) as f:
        for line in f:
            if "connect(" not in line:
                continue
            fam = FAMILY.search(line)
            if not fam:  # "<... connect resumed>": the address was on the first half
                continue
            addr = IPV4.search(line) or IPV6.search(line)
            out.append((fam.group(1), addr.group(1) if addr else None))
    return out


def non_loopback(conns):
    bad = []
    for fam, addr in conns:
        if fam in LOCAL_FAMILIES:
            continue
        try:
            ip = ipaddress.ip_address(addr or "")
            if getattr(ip, "ipv4_mapped", None):
                ip = ip.ipv4_mapped
            if ip.is_loopback:
                continue
        except ValueError:
            pass
        bad.append((fam, addr))
    return bad


def traced(tmp, name, cmd, env=None, netns=False):
    log = os.path.join(tmp, name + ".strace")
    pre = ["unshare", "--net"] if netns else []
    # LeakSanitizer cannot run under ptrace (the suite's ASan run): leaks
    # are checked by the same tests run without strace.
    env = dict(os.environ if env is None else env)
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    r = subprocess.run(pre + ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect",
                              "-e", "signal=none", "-o", log] + cmd,
                       env=env, capture_output=True, timeout=600)
    return r, connects(log)


def no_creds_env(tmp, **extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COVSHIP_"))}
    e.update({"HOME": tmp, "AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
              "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
              "COVSHIP_S3_MAX_ATTEMPTS": "1"})
    e.update({k: v for k, v in extra.items() if v is not None})
    for k in [k for k, v in extra.items() if v is None]:
        e.pop(k, None)
    return e


def pull_cmd(tmp):
    return [COVSHIP, "pull", "s3://bucket/p", "--out", os.path.join(tmp, "out"),
            "--endpoint", "http://127.0.0.1:9", "--path-style"]


class NoRoleImds(http.server.BaseHTTPRequestHandler):
    """An IMDS with a token but no instance profile role."""
    role_status = 404

    def log_message(self, *a):
        pass

    def send(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        self.send(200, b"imds-token")

    def do_GET(self):
        self.send(NoRoleImds.role_status, b"")


def main(tmp):
    for script, args in SCRIPTS:
        r, conns = traced(tmp, script, [sys.executable, os.path.join(HERE, script)] + args)
        bad = non_loopback(conns)
        c.check(r.returncode == 0, "%s passes under strace (%s)" % (
            script, r.stdout.decode(errors="replace").strip().splitlines()[-1:]))
        c.check(any(f == "AF_INET" for f, _ in conns) and not bad,
                "%s: %d connect() calls, all to loopback or local sockets; others: %s"
                % (script, len(conns), sorted(set(bad))))

    # No credentials at all: one clear line, loopback only.
    r, conns = traced(tmp, "pull", pull_cmd(tmp), env=no_creds_env(tmp))
    err = r.stderr.decode(errors="replace").strip()
    c.check(r.returncode != 0 and "no AWS credentials found" in err and "tried:" in err
            and "AWS_ACCESS_KEY_ID" in err and "(AWS_EC2_METADATA_DISABLED)" in err
            and err.count("\n") == 0, "no credentials: one line, sources tried, how to fix (%s)"
            % err)
    c.check(not non_loopback(conns), "no credentials: nothing but loopback (%s)"
            % sorted(set(non_loopback(conns))))

    # An IMDS without a role: still "no AWS credentials found", not an IMDS error.
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoRoleImds)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    for status in (404, 403):
        NoRoleImds.role_status = status
        env = no_creds_env(tmp, AWS_EC2_METADATA_DISABLED=None,
                           COVSHIP_TEST_IMDS_ENDPOINT="http://127.0.0.1:%d" % srv.server_address[1])
        p = subprocess.run(pull_cmd(tmp), env=env, capture_output=True, timeout=60)
        err = p.stderr.decode(errors="replace").strip()
        c.check(p.returncode != 0 and err.startswith("[covship] error: no AWS credentials found")
                and "no instance profile role: HTTP %d" % status in err,
                "IMDS without a role (HTTP %d): 'no AWS credentials found' (%s)" % (status, err))
    srv.shutdown()

    # Control: IMDS left on, in a namespace where nothing can leave.
    r, conns = traced(tmp, "control", pull_cmd(tmp),
                      env=no_creds_env(tmp, AWS_EC2_METADATA_DISABLED=None), netns=True)
    err = r.stderr.decode(errors="replace").strip()
    bad = non_loopback(conns)
    c.check(("AF_INET", "169.254.169.254") in bad,
            "control: without AWS_EC2_METADATA_DISABLED a connect() to 169.254.169.254 "
            "shows up and is flagged (%s)" % sorted(set(bad)))
    c.check("no AWS credentials found" in err and "169.254.169.254" in err,
            "control: and the error is still 'no AWS credentials found' (%s)" % err)


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="s3connect.")
    try:
        main(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.exit()
