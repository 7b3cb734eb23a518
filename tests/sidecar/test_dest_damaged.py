#!/usr/bin/python3
"""Issue 11: a bundle damaged in the spool is never delivered to `file://`.

On the spool's file system the `file://` destination hard-links the spooled
bundle into place and copies nothing, so nothing else reads its bytes: it
must hash them against the SHA-256 recorded when the bundle was built.

A push whose key is blocked (a file named like the key's directory) leaves
its bundle in the spool; one byte of that bundle is flipped; the blocker is
removed and push runs again. The damaged bytes never reach the destination:
the bundle is built again from its unchanged sources and delivered intact,
exactly once, and the sources are removed only then.

Control: the damaged spooled bundle itself fails the checker that the
delivered one passes (so a delivered damaged bundle could not pass)."""
import hashlib
import os
import shutil

from sidecarlib import (Checker, Scratch, bundles, fake_done, fake_run, parse_args, read_bundle,
                        run, verify_exactly_once)

RUN = "da3a9ed0da3a9ed0da3a9ed0da3a9ed0"


def intact(path, want):
    """(ok, detail): the bundle at path reads whole and holds exactly want."""
    try:
        entries, _, problems = read_bundle(path)
    except Exception as e:  # a damaged gzip stream, a broken tar header
        return False, f"unreadable: {e}"
    got = {p: hashlib.sha256(d).hexdigest() for p, d in entries.items()}
    if problems or got != want:
        return False, "; ".join(problems) or "other files"
    return True, ""


def main():
    a = parse_args()
    c = Checker("sidecar_dest_damaged")
    with Scratch(a.keep) as s:
        cov, out, spool = (os.path.join(s.path, d) for d in ("cov", "out", "spool"))
        os.makedirs(out)
        data = fake_run(cov, RUN)
        want = {}
        for i in range(2):
            content = os.urandom(200000 + i)  # incompressible: a flip lands in data
            name = f".coverage.host.{i}.77"
            with open(os.path.join(data, name), "wb") as fh:
                fh.write(content)
            want[f"run-{RUN}/{name}".encode()] = hashlib.sha256(content).hexdigest()
        fake_done(cov, RUN)
        args = ["push", "--dir", cov, "--dest", "file://" + out, "--spool", spool,
                "--key-template", "blocked/{bundle}"]
        with open(os.path.join(out, "blocked"), "w"):
            pass
        r = run(a.covship, args)
        spooled = [b for b in bundles(spool)]
        c.check(r.returncode == 1 and len(spooled) == 1, "a blocked key leaves the bundle in the "
                "spool, exit 1", f"exit {r.returncode}, {spooled}")
        if len(spooled) != 1:
            return c.finish()
        ok, _ = intact(spooled[0], want)
        c.check(ok, "the spooled bundle is intact before the flip")
        with open(spooled[0], "r+b") as fh:
            fh.seek(os.path.getsize(spooled[0]) // 2)
            b = fh.read(1)
            fh.seek(-1, os.SEEK_CUR)
            fh.write(bytes([b[0] ^ 0xFF]))
        damaged = os.path.join(s.path, "damaged.tar.gz")
        shutil.copyfile(spooled[0], damaged)
        ok, detail = intact(damaged, want)
        c.check(not ok, "control: the checker flags the damaged bundle", detail or "passed")
        os.unlink(os.path.join(out, "blocked"))
        r = run(a.covship, args)
        log = r.stderr.decode(errors="replace")
        c.check(r.returncode == 0, "the second push exits 0", log[-600:])
        c.check("is damaged" in log and "building it again" in log,
                "one line says the bundle is damaged and is built again", log[-600:])
        ok, detail = verify_exactly_once(out, want)
        c.check(ok, "every file delivered exactly once, intact", detail)
        for b in bundles(out):
            with open(b, "rb") as fh, open(damaged, "rb") as dh:
                c.check(fh.read() != dh.read(), "the damaged bytes are not the delivered object")
        left = [f for f in os.listdir(data)]
        c.check(not left, "the sources are removed once delivered", str(left))
    return c.finish()


if __name__ == "__main__":
    main()
