#!/usr/bin/python3
"""The default spool, DIR/.covship-spool (issue 11): on the watched volume,
so the sidecar needs no writable root file system and its spool outlives a
restart of the sidecar container alone.

1. `push` without --spool, with --include '*' (every file is coverage): the
   spool is DIR/.covship-spool, mode 0700, with its id; no bundle holds
   anything of it (nor of .covship/), twice in a row.
2. `watch` without --spool: `covship health --dir DIR` (and COVSHIP_DIR)
   finds its spool: healthy. Without --dir or --spool: one line, exit 2.
3. A `.covship-spool` of another spool (--spool elsewhere) is never bundled
   either: it is excluded by name. Control: `.covship-spool2`, the same
   files under another name, is bundled with --include '*'.
4. The volume is the app's too: a `.covship-spool` that is a symlink, or a
   directory others may write, is refused (one line, exit 2), and nothing
   is written where the symlink points. Control: the same path as an
   explicit --spool follows the symlink (the operator chose it)."""
import os
import signal
import stat

from sidecarlib import (Checker, Scratch, Watch, bundles, clean_env, parse_args, read_bundle,
                        run, wait_for)


def put(path, body=b"x" * 100):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(body)


def entries(dest):
    out = []
    for b in bundles(dest):
        out += [e.decode(errors="replace") for e in read_bundle(b)[0]]
    return sorted(out)


a = parse_args()
c = Checker("sidecar default spool DIR/.covship-spool")
with Scratch(a.keep) as s:
    # 1. push, twice, everything is coverage
    cov, dest = s.sub("cov"), s.sub("dest")
    put(os.path.join(cov, "sub", "w1.data"))
    args = ["push", "--dir", cov, "--dest", "file://" + dest, "--include", "*"]
    r1 = run(a.covship, args)
    put(os.path.join(cov, "w2.data"))
    r2 = run(a.covship, args)
    spool = os.path.join(cov, ".covship-spool")
    st = os.lstat(spool) if os.path.lexists(spool) else None
    c.check(r1.returncode == 0 and r2.returncode == 0, "push twice without --spool: exit 0",
            (r1.stderr + r2.stderr).decode(errors="replace")[-300:])
    c.check(st is not None and stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700
            and os.path.exists(os.path.join(spool, "spool-id")),
            "the spool is DIR/.covship-spool, a directory, 0700, with its spool-id",
            oct(st.st_mode) if st else "missing")
    got = entries(dest)
    c.check(got == ["sub/w1.data", "w2.data"],
            "--include '*': the bundles hold the two files, nothing of .covship-spool/", str(got))

    # 2. watch with the default spool; health finds it through --dir / COVSHIP_DIR
    wcov, wdest = s.sub("wcov"), s.sub("wdest")
    w = Watch(a.covship, ["--dir", wcov, "--dest", "file://" + wdest, "--drain-timeout", "1"],
              os.path.join(s.path, "watch.log"))
    s.cleanups.append(w.kill)
    started = w.wait_started(os.path.join(wcov, ".covship-spool"))
    h1 = run(a.covship, ["health", "--dir", wcov])
    h2 = run(a.covship, ["health"], env=clean_env(COVSHIP_DIR=wcov))
    h3 = run(a.covship, ["health"])
    c.check(started and h1.returncode == 0 and h2.returncode == 0,
            "watch without --spool: health --dir DIR and COVSHIP_DIR=DIR say healthy",
            (h1.stdout + h2.stdout).decode(errors="replace") + w.log()[-200:])
    e3 = h3.stderr.decode(errors="replace").strip()
    c.check(h3.returncode == 2 and e3.count("\n") == 0 and "--dir" in e3,
            "health with neither --dir nor --spool: one line, exit 2", e3)
    w.signal(signal.SIGTERM)
    c.check(w.wait(20) == 0, "the watcher drains and exits 0", w.log()[-300:])
    w.kill()

    # 3. another spool's .covship-spool in DIR: excluded by name
    ocov, odest = s.sub("ocov"), s.sub("odest")
    for d in (".covship-spool", ".covship-spool2"):
        put(os.path.join(ocov, d, "stale.tar.gz"))
    put(os.path.join(ocov, "w3.data"))
    r = run(a.covship, ["push", "--dir", ocov, "--dest", "file://" + odest, "--include", "*",
                        "--spool", os.path.join(s.path, "elsewhere")])
    got = entries(odest)
    c.check(r.returncode == 0 and ".covship-spool/stale.tar.gz" not in got and
            os.path.exists(os.path.join(ocov, ".covship-spool", "stale.tar.gz")),
            "a .covship-spool in DIR is never bundled, whose spool it may be", str(got))
    c.check(".covship-spool2/stale.tar.gz" in got,
            "control: the same file under .covship-spool2 is bundled (--include '*')", str(got))

    # 4. planted symlink / a directory others may write
    evil, target = s.sub("evil"), s.sub("target")
    put(os.path.join(evil, "w4.data"))
    os.symlink(target, os.path.join(evil, ".covship-spool"))
    r = run(a.covship, ["push", "--dir", evil, "--dest", "file://" + dest, "--include", "*"])
    err = r.stderr.decode(errors="replace").strip()
    c.check(r.returncode == 2 and "symlink" in err and err.count("\n") == 0 and
            os.listdir(target) == [] and
            os.path.exists(os.path.join(evil, "w4.data")),
            "a symlink at DIR/.covship-spool: exit 2, nothing written where it points", err)
    r = run(a.covship, ["push", "--dir", evil, "--dest", "file://" + dest, "--include", "*",
                        "--spool", os.path.join(evil, ".covship-spool")])
    c.check(r.returncode == 0 and os.path.exists(os.path.join(target, "spool-id")),
            "control: the same path as an explicit --spool is followed",
            r.stderr.decode(errors="replace")[-200:])
    wide = s.sub("wide")
    os.mkdir(os.path.join(wide, ".covship-spool"))
    os.chmod(os.path.join(wide, ".covship-spool"), 0o777)
    r = run(a.covship, ["push", "--dir", wide, "--dest", "file://" + dest])
    err = r.stderr.decode(errors="replace").strip()
    c.check(r.returncode == 2 and "not private" in err and err.count("\n") == 0,
            "a DIR/.covship-spool others may write: one line, exit 2", err)
c.finish()
