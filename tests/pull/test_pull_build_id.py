"""Issue 12, test 1: one build-id rule on both sides. Jenkins' BUILD_TAG
(`jenkins-${JOB_NAME}-${BUILD_NUMBER}`) holds spaces, `%2F` and `/` in a
multibranch job, and anything a job name may hold. `covship push --build TAG
--key-template '{build}/{bundle}'` uploads to radosgw and `covship pull
--build TAG` of the same prefix finds exactly that bundle, byte for byte,
for tags with spaces, %2F, '/', unicode, '.', '..' and 500 characters (also
with the tag from BUILD_TAG on the push side and COVSHIP_BUILD on the pull
side). A tag of more than 512 bytes (300 two-byte characters) is refused by
both sides with the same reason, before anything is uploaded or listed.

Control: today's Jenkinsfile pulled `s3://…/${BUILD_TAG}/`, the raw tag
pasted into the URL; that pull finds nothing (exit 1, "no bundles") for
every tag the rule changes.

usage: test_pull_build_id.py COVSHIP S3SERVER_ENV_FILE"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import check, pull, scratch, sha256_file  # noqa: E402

COVSHIP, ENV_FILE = sys.argv[1], sys.argv[2]

TAGS = [
    "jenkins-My App-feature%2Fx-42",          # multibranch: space and %2F
    "jenkins-org/repo/main-7",                # folders: '/'
    "jenkins-d\u00e9p\u00f4t-\u0416-\U0001F642-3",  # unicode: one '_' per byte
    "..",
    ".",
    "jenkins-" + ("long job name/" * 40)[:487] + "-1234",  # 500 characters
]


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def rule(tag):
    """The documented rule (docs/jenkins.md), written out independently."""
    if tag in (".", ".."):
        return "_"
    ok = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    return "".join(chr(b) if b in ok else "_" for b in tag.encode())


def covship(args, env, extra=None):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("COVSHIP_") and k != "BUILD_TAG"}
    e.update(env)
    e.update(extra or {})
    p = subprocess.run([COVSHIP] + args, capture_output=True, text=True, env=e, timeout=120)
    print("$ covship %s -> %d" % (" ".join(args)[:200], p.returncode))
    sys.stdout.write(p.stdout[-1500:] + p.stderr[-1500:])
    return p


def push(env, top, url, data, tag=None, build_tag=None):
    cov = os.path.join(top, "cov-%s" % os.urandom(4).hex())
    os.makedirs(cov)
    with open(os.path.join(cov, ".coverage.web.7.123"), "wb") as f:
        f.write(data)
    args = ["push", "--dir", cov, "--dest", url, "--key-template", "{build}/{bundle}",
            "--spool", os.path.join(top, "spool-%s" % os.urandom(4).hex())]
    if tag is not None:
        args += ["--build", tag]
    return covship(args, env, {"BUILD_TAG": build_tag} if build_tag is not None else None)


def pulled_data(out):
    got = []
    for d, _, fs in os.walk(out):
        got += [os.path.join(d, f) for f in fs if f.startswith(".coverage.")]
    return got


def main():
    env = read_env(ENV_FILE)
    bucket = env["COVSHIP_TEST_BUCKET"]
    base = "s3://%s/build-id-%s" % (bucket, os.urandom(4).hex())
    penv = {k: v for k, v in env.items() if k.startswith("AWS_")}
    check(len(TAGS[5]) == 500, "the long tag has 500 characters")
    with scratch() as top:
        for i, tag in enumerate(TAGS):
            url = "%s/case-%d/" % (base, i)
            data = os.urandom(4096 + i)
            # case 1 takes the tag from BUILD_TAG, as a sidecar without --build
            p = push(penv, top, url, data, None if i == 1 else tag, tag if i == 1 else None)
            check(p.returncode == 0 and "as %s/" % rule(tag) in p.stderr,
                  "push --build %r stored the bundle under %s/" % (tag[:40], rule(tag)[:40]))
            out = os.path.join(top, "out-%d" % i)
            # case 2 gives pull the tag in COVSHIP_BUILD, the URL without its '/'
            if i == 2:
                p = pull(COVSHIP, [url.rstrip("/"), "--out", out, "--allow-incomplete"],
                         env=dict(penv, COVSHIP_BUILD=tag))
            else:
                p = pull(COVSHIP, [url, "--build", tag, "--out", out, "--allow-incomplete"],
                         env=penv)
            got = pulled_data(out)
            check(p.returncode == 0 and "pulled 1 of 1 bundles, 1 files" in p.stdout
                  and len(got) == 1 and open(got[0], "rb").read() == data,
                  "pull --build %r met it: 1 bundle, the file byte for byte" % tag[:40])
            # Control: the raw tag pasted into the URL, as the old Jenkinsfile did.
            if rule(tag) != tag:
                ctl_out = os.path.join(top, "ctl-%d" % i)
                p = pull(COVSHIP, [url + tag + "/", "--out", ctl_out, "--allow-incomplete"],
                         env=penv)
                check(p.returncode != 0 and not pulled_data(ctl_out),
                      "control: the raw-URL pull of %r finds nothing (exit %d%s)"
                      % (tag[:40], p.returncode,
                         ", no bundles" if "no bundles" in p.stderr else ""))

        # Too long: 300 two-byte characters = 600 bytes; both sides refuse it alike.
        long_tag = "\u00e9" * 300
        url = "%s/case-long/" % base
        p1 = push(penv, top, url, b"x", long_tag)
        p2 = pull(COVSHIP, [url, "--build", long_tag, "--out", os.path.join(top, "o-long")],
                  env=penv)
        reason = "build id: 600 bytes, more than 512"
        check(p1.returncode == 2 and reason in p1.stderr and len(p1.stderr.splitlines()) == 1,
              "push refuses a 600-byte build id with one line (exit 2)")
        check(p2.returncode == 2 and reason in p2.stderr and len(p2.stderr.splitlines()) == 1,
              "pull refuses it with the same reason (exit 2)")
        p = pull(COVSHIP, [url, "--out", os.path.join(top, "o-long2")], env=penv)
        check(p.returncode == 1 and "no bundles" in p.stderr,
              "nothing was uploaded for the refused id")
        # Empty: refused on both sides too (an unset BUILD_TAG pasted in).
        p1 = push(penv, top, url, b"x", "")
        p2 = pull(COVSHIP, [url, "--build", "", "--out", os.path.join(top, "o-e")], env=penv)
        check(p1.returncode == 2 and p2.returncode == 2 and "build id: empty" in p1.stderr
              and "build id: empty" in p2.stderr, "an empty --build is refused on both sides")
    print("PASS")


if __name__ == "__main__":
    main()
