"""Helpers for S3 tests (also for other areas' tests, e.g. pull's interop
test): the fixture's endpoint and keys, a botocore client, aws-cli, the
fault proxy. Import with sys.path.insert(0, <this directory>)."""
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))


def load_env(path):
    """KEY=value lines written by scripts/s3server.sh → dict."""
    env = {}
    with open(path) as f:
        for line in f:
            k, sep, v = line.strip().partition("=")
            if sep:
                env[k] = v
    return env


def botocore_client(env):
    import botocore.session
    from botocore.config import Config
    s = botocore.session.get_session()
    return s.create_client(
        "s3", endpoint_url=env["COVSHIP_TEST_S3_ENDPOINT"], region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def child_env(env, **extra):
    """A clean environment for covship/s3tool/aws: only what the fixture says.
    IMDS stays off (AWS_EC2_METADATA_DISABLED): a run whose credentials are
    missing must not send a packet to 169.254.169.254 (docs/s3.md)."""
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("AWS_") and not k.startswith("COVSHIP_")}
    e["AWS_EC2_METADATA_DISABLED"] = "true"
    e.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    e.update({k: str(v) for k, v in extra.items()})
    return e


def aws_cli(env, *args):
    """Run `aws` (success paths only: aws-cli crashes on radosgw error bodies)."""
    e = child_env(env)
    e["AWS_CONFIG_FILE"] = "/dev/null"
    e["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    return subprocess.run(["aws", "--endpoint-url", env["COVSHIP_TEST_S3_ENDPOINT"]] + list(args),
                          env=e, capture_output=True, timeout=120)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_object(client, bucket, key):
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    h = hashlib.sha256()
    for chunk in iter(lambda: body.read(1 << 20), b""):
        h.update(chunk)
    return h.hexdigest()


def unique_prefix(name):
    return "%s-%s/" % (name, uuid.uuid4().hex[:12])


class FaultProxy:
    """tests/lib/s3/faultproxy.py in front of the fixture's radosgw."""

    def __init__(self, env, rules, workdir, tls=None):
        self.portfile = os.path.join(workdir, "proxy.port.%s" % uuid.uuid4().hex[:6])
        self.logfile = self.portfile + ".log"
        open(self.logfile, "w").close()
        upstream = env["COVSHIP_TEST_S3_ENDPOINT"].rsplit(":", 1)[1]
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "faultproxy.py"),
                                      upstream, self.portfile, self.logfile, json.dumps(rules)]
                                     + list(tls or ()))
        for _ in range(100):
            if os.path.exists(self.portfile):
                break
            time.sleep(0.05)
        with open(self.portfile) as f:
            self.endpoint = "%s://127.0.0.1:%s" % ("https" if tls else "http", f.read().strip())

    def log(self):
        with open(self.logfile) as f:
            return [json.loads(line) for line in f if line.strip()]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Checks:
    """Collects failures so one run reports all of them; exit status 1 if any."""

    def __init__(self):
        self.failed = 0

    def check(self, cond, what):
        print("%s %s" % ("ok  " if cond else "FAIL", what), flush=True)
        if not cond:
            self.failed += 1
        return cond

    def exit(self):
        print("%d check(s) failed" % self.failed)
        sys.exit(1 if self.failed else 0)


def measure(cmd, env):
    """Wall seconds and peak RSS (KiB) of cmd, via GNU time (benchmarks)."""
    t0 = time.monotonic()
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, env=env, capture_output=True)
    wall = time.monotonic() - t0
    if r.returncode:
        sys.exit("bench: %s failed: %s" % (cmd[0], r.stderr.decode()[-500:]))
    return wall, int(r.stderr.decode().strip().splitlines()[-1])
