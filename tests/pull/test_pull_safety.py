"""`covship pull` safety (issue 12, test 6's last three parts, and the
progress line):

- colliding bundles (K.tar.gz + K.tar.zst, P//K + P/K over S3, K + K/x,
  a directory that no pull left) are refused before any download, one line
  naming both, exit 10, nothing replaced. Control: the checker that says
  "nothing replaced" does flag a directory that a legitimate re-pull
  replaced (an earlier pull's directory may be replaced).
- a zstd bomb (1 GiB of zeros in ~40 KB) is refused at --max-bundle-bytes,
  at the default --max-ratio, and at --max-total-bytes, exit 9, with
  nothing left behind (no output dir, no staging dir). Control: with the
  caps raised the same bomb extracts 1 GiB (the bomb is real).
- a listed-size lie: a tiny S3 endpoint on loopback lists a bundle at N
  bytes and sends more on GET; pull cuts the transfer and says so.
  Control: the same server listing the true size pulls fine.
- progress: under a pseudo-TTY a line redrawn in place ("\\r", erase line),
  erased at the end; without a TTY a short pull prints none; with
  --log-format json every stderr line is JSON. --version, -q, -v.

usage: test_pull_safety.py COVSHIP"""
import http.server
import json
import os
import pty
import select
import subprocess
import sys
import tarfile
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import (MANIFEST, check, good_bundle, manifest, marker, pull,  # noqa: E402
                      run_id, scratch, tree)

COVSHIP = sys.argv[1]
GIB = 1 << 30


def one_error(p, code, *words):
    errs = [ln for ln in p.stderr.splitlines() if "error:" in ln]
    return p.returncode == code and len(errs) == 1 and all(w in errs[0] for w in words)


def snapshot(d):
    """What 'nothing was replaced' compares: every path with its inode and
    content, so a directory swapped for an identical copy still shows."""
    out = {}
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            p = os.path.join(root, n)
            st = os.lstat(p)
            data = open(p, "rb").read() if os.path.isfile(p) else b""
            out[os.path.relpath(p, d)] = (st.st_ino, data)
    return out


def zst_bundle(path, rid, files):
    """A .tar.zst bundle (zstd CLI) of files [(path, bytes)]."""
    tmp = path + ".tar"
    good_bundle(tmp + ".gz", rid, files)
    subprocess.run(["sh", "-c", "gzip -dc '%s.gz' | zstd -q -o '%s'" % (tmp, path)],
                   check=True)
    os.unlink(tmp + ".gz")


class Zeros:
    """A file object of n zero bytes, without holding them."""

    def __init__(self, n):
        self.left = n

    def read(self, k=-1):
        k = self.left if k < 0 else min(k, self.left)
        self.left -= k
        return bytes(k)


def bomb(path, size):
    """A valid bundle (manifest and marker) holding one file of `size` zero
    bytes, compressed with zstd: tar streamed into the zstd CLI."""
    import hashlib
    h = hashlib.sha256()
    z = Zeros(size)
    block = bytes(1 << 20)
    for _ in range(size >> 20):
        h.update(block)
    rid = run_id(77)
    name = "run/.coverage.host.1.2"
    man = manifest(rid, [], marker(rid))
    man["files"] = [{"path": name, "size": size, "sha256": h.hexdigest()}]
    z = subprocess.Popen(["zstd", "-q", "-3", "-o", path], stdin=subprocess.PIPE)
    with tarfile.open(fileobj=z.stdin, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        ti = tarfile.TarInfo(name)
        ti.size = size
        ti.mode = 0o644
        tar.addfile(ti, Zeros(size))
        data = json.dumps(man).encode()
        ti = tarfile.TarInfo(MANIFEST)
        ti.size = len(data)
        ti.mode = 0o644
        import io
        tar.addfile(ti, io.BytesIO(data))
    z.stdin.close()
    check(z.wait() == 0, "zstd made the bomb")


def leftovers(out):
    """Paths below out other than a bundle's directory: staging dirs."""
    return [p for p in tree(out) if p.startswith(".covship-pull")]


# --- a tiny S3 endpoint --------------------------------------------------

class FakeS3(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    objects = {}   # key -> bytes sent on GET
    listed = {}    # key -> size in the listing

    def log_message(self, *a):
        pass

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        parts = u.path.split("/", 2)  # "", bucket, key
        if "list-type" in q:
            prefix = q.get("prefix", [""])[0]
            items = "".join(
                "<Contents><Key>%s</Key><Size>%d</Size><ETag>\"x\"</ETag></Contents>"
                % (k, self.listed[k]) for k in sorted(self.listed) if k.startswith(prefix))
            body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>"
                    "<IsTruncated>false</IsTruncated>%s</ListBucketResult>" % items).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
        else:
            key = urllib.parse.unquote(parts[2]) if len(parts) > 2 else ""
            if key not in self.objects:
                self.send_response(404)
                body = b"<Error><Code>NoSuchKey</Code></Error>"
            else:
                self.send_response(200)
                body = self.objects[key]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass


def serve():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeS3)
    srv.handle_error = lambda *a: None  # pull hanging up on a lie is expected
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def s3_pull(srv, url, out, extra=()):
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_SESSION_TOKEN": "", "AWS_REGION": "us-east-1",
           "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
    return pull(COVSHIP, [url, "--out", out, "--endpoint",
                          "http://127.0.0.1:%d" % srv.server_address[1], "--path-style"]
                + list(extra), env=env)


# --- the tests ------------------------------------------------------------

def collisions(top):
    src = os.path.join(top, "coll")
    out = os.path.join(top, "out-coll")
    os.makedirs(os.path.join(src, "a"))
    rid = run_id(1)
    good_bundle(os.path.join(src, "a", "K.tar.gz"), rid, [("r/.coverage.h.1.1", b"first")])
    p = pull(COVSHIP, ["file://" + src, "--out", out])
    check(p.returncode == 0, "an earlier pull places a/K")
    before = snapshot(out)

    zst_bundle(os.path.join(src, "a", "K.tar.zst"), run_id(2), [("r/.coverage.h.2.1", b"2nd")])
    p = pull(COVSHIP, ["file://" + src, "--out", out])
    check(one_error(p, 10, "a/K.tar.gz", "a/K.tar.zst", "both"),
          "K.tar.gz + K.tar.zst: exit 10, one line naming both")
    check(snapshot(out) == before and not leftovers(out), "... and nothing was replaced")
    os.unlink(os.path.join(src, "a", "K.tar.zst"))

    os.makedirs(os.path.join(src, "a", "K"))
    good_bundle(os.path.join(src, "a", "K", "x.tar.gz"), run_id(3), [("r/.c.3", b"x")])
    p = pull(COVSHIP, ["file://" + src, "--out", out])
    check(one_error(p, 10, "a/K/x.tar.gz", "a/K.tar.gz", "inside"),
          "K.tar.gz + K/x.tar.gz: exit 10, one line naming both")
    check(snapshot(out) == before, "... and nothing was replaced")
    os.unlink(os.path.join(src, "a", "K", "x.tar.gz"))
    os.rmdir(os.path.join(src, "a", "K"))

    # A directory that no pull left is never replaced.
    os.makedirs(os.path.join(src, "b"))
    good_bundle(os.path.join(src, "b", "mine.tar.gz"), run_id(4), [("r/.c.4", b"4")])
    os.makedirs(os.path.join(out, "b", "mine"))
    with open(os.path.join(out, "b", "mine", "notes.txt"), "w") as f:
        f.write("the user's own file")
    before = snapshot(out)
    p = pull(COVSHIP, ["file://" + src, "--out", out])
    check(one_error(p, 10, "b/mine.tar.gz", "not left by covship pull"),
          "a foreign directory at a bundle's place: exit 10, one line")
    check(snapshot(out) == before, "... and it is untouched")
    os.unlink(os.path.join(out, "b", "mine", "notes.txt"))
    os.rmdir(os.path.join(out, "b", "mine"))

    # Control: a legitimate re-pull replaces an earlier pull's directory,
    # and the checker sees it.
    before = snapshot(out)
    good_bundle(os.path.join(src, "a", "K.tar.gz"), rid, [("r/.coverage.h.1.1", b"again")])
    p = pull(COVSHIP, ["file://" + src, "--out", out])
    check(p.returncode == 0, "control: re-pulling replaces an earlier pull's directory")
    check(snapshot(out) != before, "control: the checker flags the replaced directory")


def collisions_s3(top, srv):
    good = os.path.join(top, "s3good.tar.gz")
    rid = run_id(5)
    good_bundle(good, rid, [("r/.coverage.h.5.1", b"five")])
    data = open(good, "rb").read()
    FakeS3.objects = {"P/K.tar.gz": data, "P//K.tar.gz": data}
    FakeS3.listed = {k: len(data) for k in FakeS3.objects}
    out = os.path.join(top, "out-s3coll")
    p = s3_pull(srv, "s3://bkt/P", out)
    check(one_error(p, 10, "P//K.tar.gz", "P/K.tar.gz", "both"),
          "S3 keys P//K and P/K: exit 10, one line naming both")
    check(tree(out) == [], "... and nothing was extracted")


def size_lie(top, srv):
    good = os.path.join(top, "lie.tar.gz")
    rid = run_id(6)
    good_bundle(good, rid, [("r/.coverage.h.6.1", os.urandom(200000))])
    data = open(good, "rb").read()
    FakeS3.objects = {"L/run.tar.gz": data + os.urandom(1 << 20)}
    FakeS3.listed = {"L/run.tar.gz": len(data)}
    out = os.path.join(top, "out-lie")
    p = s3_pull(srv, "s3://bkt/L", out)
    check(p.returncode == 1 and "sent more than the expected %d bytes" % len(data) in p.stderr
          and "cut" in p.stderr, "a server sending more than listed: cut and reported, exit 1")
    check(tree(out) == [], "... and nothing was extracted")
    FakeS3.objects = {"L/run.tar.gz": data}
    p = s3_pull(srv, "s3://bkt/L", out)
    check(p.returncode == 0 and "pulled 1 of 1" in p.stdout,
          "control: the same server with the true size pulls")


def bombs(top):
    src = os.path.join(top, "bomb")
    os.makedirs(src)
    path = os.path.join(src, "boom.tar.zst")
    bomb(path, GIB)
    size = os.path.getsize(path)
    print("bomb: %d bytes compressed, %d extracted (ratio %d)" % (size, GIB, GIB // size))
    check(size < 200000, "the bomb is small")

    out = os.path.join(top, "out-bomb")
    p = pull(COVSHIP, ["file://" + src, "--out", out, "--max-bundle-bytes", "16M"])
    check(one_error(p, 9, "boom.tar.zst", "--max-bundle-bytes", "nothing of it"),
          "--max-bundle-bytes 16M: refused, exit 9, one line")
    check(tree(out) == [], "... nothing left behind (no staging dir)")

    p = pull(COVSHIP, ["file://" + src, "--out", out])
    check(one_error(p, 9, "boom.tar.zst", "--max-ratio"),
          "defaults: refused at --max-ratio, exit 9, one line")
    check(tree(out) == [], "... nothing left behind")

    p = pull(COVSHIP, ["file://" + src, "--out", out, "--max-ratio", "100000",
                       "--max-total-bytes", "100M"])
    check(one_error(p, 9, "boom.tar.zst", "--max-total-bytes"),
          "--max-total-bytes 100M: refused, exit 9, one line")
    check(tree(out) == [], "... nothing left behind")

    p = pull(COVSHIP, ["file://" + src, "--out", out, "--max-ratio", "bad"])
    check(one_error(p, 2, "--max-ratio", "whole number"), "a bad --max-ratio: exit 2")
    p = pull(COVSHIP, ["file://" + src, "--out", out],
             env={"COVSHIP_PULL_MAX_BUNDLE_BYTES": "1x"})
    check(one_error(p, 2, "COVSHIP_PULL_MAX_BUNDLE_BYTES"), "a bad env size: exit 2")
    p = pull(COVSHIP, ["file://" + src, "--out", out],
             env={"COVSHIP_PULL_MAX_BUNDLE_BYTES": "16M"})
    check(one_error(p, 9, "--max-bundle-bytes"), "COVSHIP_PULL_MAX_BUNDLE_BYTES is read")

    # Control: with the caps out of the way the bomb really is 1 GiB.
    p = pull(COVSHIP, ["file://" + src, "--out", out, "--max-bundle-bytes", "2G",
                       "--max-ratio", "1000000"])
    f = os.path.join(out, "boom", "run", ".coverage.host.1.2")
    check(p.returncode == 0 and os.path.getsize(f) == GIB,
          "control: with the caps raised the bomb extracts 1 GiB")
    os.unlink(f)


def pty_run(args):
    """Run covship with stderr on a pseudo-TTY; return (rc, raw tty bytes)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([COVSHIP] + args, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    raw = b""
    while True:
        r, _, _ = select.select([master], [], [], 60)
        if not r:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the tty
            break
        if not chunk:
            break
        raw += chunk
    os.close(master)
    p.stdout.read()
    return p.wait(), raw


def progress(top):
    src = os.path.join(top, "prog")
    os.makedirs(src)
    for i in range(40):
        good_bundle(os.path.join(src, "r%02d.tar.gz" % i), run_id(100 + i),
                    [("r/.coverage.h.%d.1" % i, os.urandom(1000))])
    out = os.path.join(top, "out-prog")
    rc, raw = pty_run(["pull", "file://" + src, "--out", out])
    print(repr(raw[-300:]))
    draws = raw.count(b"\r\x1b[Kprogress: ")
    check(rc == 0 and draws >= 2 and b"progress: 40/40 bundles" in raw and b"ETA" in raw,
          "TTY: the progress line is redrawn in place (%d draws), up to 40/40" % draws)
    check(raw.endswith(b"\r\x1b[K") and b"\n" not in raw.split(b"progress:")[-1],
          "TTY: redrawn without newlines and erased at the end")
    rc, raw = pty_run(["pull", "file://" + src, "--out", out, "-q"])
    check(rc == 0 and b"progress" not in raw, "TTY with -q: no progress line")
    rc, raw = pty_run(["pull", "file://" + src, "--out", out, "--log-format", "json"])
    lines = [ln for ln in raw.replace(b"\r\n", b"\n").split(b"\n") if ln.strip()]
    ok = all(json.loads(ln)["program"] for ln in lines)
    check(rc == 0 and ok and b"\x1b[K" not in raw and lines,
          "TTY with --log-format json: only JSON lines, no redrawn line")
    p = pull(COVSHIP, ["file://" + src, "--out", out])
    check(p.returncode == 0 and "progress" not in p.stderr,
          "control: not a TTY, a short pull prints no progress")
    p = pull(COVSHIP, ["file://" + src, "--out", out, "-v"])
    check(p.returncode == 0 and "debug:" in p.stderr, "-v logs debug lines")
    p = pull(COVSHIP, ["--version"])
    check(p.returncode == 0 and p.stdout.startswith("covship "), "pull --version")


def main():
    srv = serve()
    with scratch() as top:
        collisions(top)
        collisions_s3(top, srv)
        size_lie(top, srv)
        progress(top)
        bombs(top)
    srv.shutdown()
    print("PASS")


if __name__ == "__main__":
    main()
