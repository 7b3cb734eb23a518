"""Issue 4, test 5 (second half): what `aws s3 cp` uploaded to radosgw,
`covship pull s3://bucket/prefix` reads: every bundle under the prefix (and
only that prefix: a sibling prefix sharing its first letters is not pulled),
downloaded in parallel, verified and extracted byte for byte. A corrupted
object uploaded the same way is refused (exit 3). Control: a wrong secret
key makes the listing fail (exit 1), so the success above went through
radosgw's signature check. Streaming: 120 small bundles and one larger
than what pull keeps in memory (9 MiB: it goes to an unnamed file) pull
byte for byte with --jobs 64 under RLIMIT_NOFILE 64 (control: under that
limit the 121 bundles cannot all be open at once), so downloads in flight
and extraction stay within the descriptor limit.

usage: test_pull_s3.py COVSHIP S3SERVER_ENV_FILE"""
import os
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import (bundle_name, check, good_bundle, pull, run_id, scratch,  # noqa: E402
                      sha256_bytes, sha256_file)

COVSHIP, ENV_FILE = sys.argv[1], sys.argv[2]


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def aws_cp(env, local, url):
    r = subprocess.run(["aws", "--endpoint-url", env["COVSHIP_TEST_S3_ENDPOINT"], "s3", "cp",
                        "--only-show-errors", local, url],
                       env=dict(os.environ, **env), capture_output=True, text=True, timeout=60)
    print(r.stdout + r.stderr)
    return r.returncode == 0


def aws_cp_tree(env, local, url):
    r = subprocess.run(["aws", "--endpoint-url", env["COVSHIP_TEST_S3_ENDPOINT"], "s3", "cp",
                        "--only-show-errors", "--recursive", local, url],
                       env=dict(os.environ, **env), capture_output=True, text=True, timeout=120)
    print(r.stdout + r.stderr)
    return r.returncode == 0


def low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def streaming(env, bucket, prefix, top):
    src = os.path.join(top, "many")
    os.makedirs(src)
    want, paths = {}, []
    for i in range(121):
        rid = run_id(2000 + i)
        data = os.urandom(9 << 20) if i == 60 else os.urandom(3000 + i)
        name = "run-%d/.coverage.m.%d.1" % (i, i)
        want[name] = sha256_bytes(data)
        paths.append(os.path.join(src, rid, bundle_name(rid)))
        os.makedirs(os.path.dirname(paths[-1]))
        good_bundle(paths[-1], rid, [(name, data)])
    check(os.path.getsize(paths[60]) > 8 << 20, "one bundle is larger than 8 MiB")
    ctl = subprocess.run([sys.executable, "-c",
                          "import sys; fs = [open(p, 'rb') for p in sys.argv[1:]]"] + paths,
                         preexec_fn=low_nofile, capture_output=True, text=True)
    check(ctl.returncode != 0 and "Too many open files" in ctl.stderr,
          "control: with RLIMIT_NOFILE 64 the 121 bundles cannot all be open")
    check(aws_cp_tree(env, src, "s3://%s/%s-many/" % (bucket, prefix)),
          "aws s3 cp --recursive uploaded 121 bundles")
    out = os.path.join(top, "out-many")
    e = dict(os.environ, **env)
    e.pop("COVSHIP_LOG_FORMAT", None)
    p = subprocess.run([COVSHIP, "pull", "s3://%s/%s-many" % (bucket, prefix), "--out", out,
                        "--jobs", "64", "--log-level", "warning"], env=e,
                       preexec_fn=low_nofile, capture_output=True, text=True, timeout=120)
    print(p.stdout + p.stderr[-2000:])
    check(p.returncode == 0 and "pulled 121 of 121 bundles" in p.stdout,
          "121 bundles pull with --jobs 64 under RLIMIT_NOFILE 64")
    got = {}
    for d, _, fs in os.walk(out):
        for f in fs:
            if f.startswith(".coverage."):
                rel = os.path.relpath(os.path.join(d, f), out).split(os.sep, 2)[2]
                got[rel] = sha256_file(os.path.join(d, f))
    check(got == want, "every file, the 9 MiB one included, arrived byte for byte")
    check(sorted(os.listdir(out)) == sorted(os.path.basename(os.path.dirname(x))
                                            for x in paths),
          "nothing but the bundles' directories is left in --out")


def main():
    env = read_env(ENV_FILE)
    bucket = env["COVSHIP_TEST_BUCKET"]
    prefix = "pull-interop-%s" % os.urandom(4).hex()
    with scratch() as top:
        want = {}
        uploaded = True
        for i in range(5):
            rid = run_id(40 + i)
            files = [("run-%d/.coverage.h.%d.%d" % (i, i, j), os.urandom(20000 + j))
                     for j in range(3)]
            for p, b in files:
                want[p] = sha256_bytes(b)
            local = os.path.join(top, bundle_name(rid))
            good_bundle(local, rid, files)
            uploaded &= aws_cp(env, local, "s3://%s/%s/%s/%s" % (bucket, prefix, rid,
                                                                bundle_name(rid)))
        # Not bundles / not under the prefix: must be ignored.
        note = os.path.join(top, "README.txt")
        with open(note, "w") as f:
            f.write("not a bundle\n")
        uploaded &= aws_cp(env, note, "s3://%s/%s/README.txt" % (bucket, prefix))
        sib = run_id(49)
        good_bundle(os.path.join(top, "sib.tar.gz"), sib, [("x/.coverage.s.1.1", b"s")])
        uploaded &= aws_cp(env, os.path.join(top, "sib.tar.gz"),
                           "s3://%s/%sx/%s" % (bucket, prefix, bundle_name(sib)))
        check(uploaded, "aws s3 cp uploaded 5 bundles, a note and a sibling-prefix bundle")

        penv = dict(env)
        out = os.path.join(top, "out")
        p = pull(COVSHIP, ["s3://%s/%s" % (bucket, prefix), "--out", out, "--jobs", "3"],
                 env=penv)
        check(p.returncode == 0, "covship pull exits 0")
        got = {}
        for d, _, fs in os.walk(out):
            for f in fs:
                if f.startswith(".coverage."):
                    rel = os.path.relpath(os.path.join(d, f), out).split(os.sep, 2)[2]
                    got[rel] = sha256_file(os.path.join(d, f))
        check(got == want, "all 15 files of the 5 bundles arrived byte for byte, "
              "nothing from the sibling prefix")
        check("pulled 5 of 5 bundles" in p.stdout, "the summary counts 5 bundles")

        # A corrupted object, uploaded by aws-cli, is refused.
        bad = os.path.join(top, "bad.tar.gz")
        rid = run_id(50)
        good_bundle(bad, rid, [("r/.coverage.b.1.1", os.urandom(30000))])
        with open(bad, "r+b") as f:
            f.seek(os.path.getsize(bad) // 2)
            c = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([c[0] ^ 0xFF]))
        check(aws_cp(env, bad, "s3://%s/%s-bad/%s" % (bucket, prefix, bundle_name(rid))),
              "aws s3 cp uploaded a corrupted bundle")
        p = pull(COVSHIP, ["s3://%s/%s-bad" % (bucket, prefix), "--out",
                           os.path.join(top, "out-bad")], env=penv)
        check(p.returncode == 3, "the corrupted bundle is refused (exit 3)")

        # Control: radosgw checks signatures; a wrong secret gets nowhere.
        wrong = dict(env, AWS_SECRET_ACCESS_KEY="wrong" + env["AWS_SECRET_ACCESS_KEY"])
        p = pull(COVSHIP, ["s3://%s/%s" % (bucket, prefix), "--out",
                           os.path.join(top, "out-wrong")], env=wrong)
        check(p.returncode == 1, "control: a wrong secret key fails the pull (exit 1)")

        streaming(env, bucket, prefix, top)
    print("PASS")


if __name__ == "__main__":
    main()
