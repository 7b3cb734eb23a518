#!/usr/bin/python3
"""Issue 11, test 1: the deletion rule. A source file is removed only when
its bytes are in a bundle the destination confirmed; a planned file the
sidecar cannot read is never deleted.

The sidecar runs without DAC capabilities (setpriv drops CAP_DAC_OVERRIDE
and CAP_DAC_READ_SEARCH from the bounding set, as non-root or ECS/k8s
`drop: ALL` would), next to an app file of another uid written 0600 (umask
077) and a readable one (0644). Checked, with push and with watch:
- the readable file is delivered (a bundle in the file:// destination whose
  manifest lists it with its SHA-256) and removed from the volume;
- the unreadable one is still in the volume, byte for byte, and is in no
  bundle; exactly one error line names it per attempt, with the errno and
  the fix; push exits 1; health says degraded while a watcher runs; the
  watcher retries it with backoff and its drain exits 1 (without waiting
  for the drain timeout); once it is readable it is delivered and removed;
- only the unreadable file: nothing deleted, no plan left behind;
- restart: a plan whose delivery failed is delivered by a later push that is
  killed right after recording the delivery; the push after that finishes
  the clean-up from the plan on disk (its written set) and keeps the file
  that was left out.

Control: the "still in the volume, byte for byte" checker is run against a
copy of the volume where the file was deleted, and one where its bytes
changed: it must fail both (and pass the intact copy). On the parent commit
(before the rule) the push scenario deletes the unreadable file, which this
checker reports.

Skips (exit 77) without root or setpriv, or where setpriv cannot drop the
capabilities."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time

from sidecarlib import (Checker, Scratch, Watch, bundles, clean_env, delivered_files,
                        fake_done, fake_run, parse_args, run, spool_leftovers, wait_for)

SETPRIV = shutil.which("setpriv")
NODAC = [SETPRIV or "setpriv", "--inh-caps=-all",
         "--bounding-set=-dac_override,-dac_read_search"]
APP_UID = 1000  # the app's uid: any uid but the sidecar's (root) will do
RUN = "5eca5eca5eca5eca5eca5eca5eca5eca"
GOOD = b"readable coverage data\n" * 40
SECRET = b"unreadable coverage data, 0600\n" * 40


def skip(why):
    print(f"SKIP: {why}", flush=True)
    raise SystemExit(77)


def app_file(path, data, mode):
    """A file as the app (uid APP_UID) wrote it with that mode."""
    with open(path, "wb") as fh:
        fh.write(data)
    os.chown(path, APP_UID, APP_UID)
    os.chmod(path, mode)


def volume(cov, readable=True, run_json=True):
    """(relpath of the readable file or None, relpath of the unreadable one)."""
    data = fake_run(cov, RUN) if run_json else os.path.join(cov, "run-" + RUN)
    os.makedirs(data, exist_ok=True)
    good = None
    if readable:
        app_file(os.path.join(data, ".coverage.h.1.1"), GOOD, 0o644)
        good = f"run-{RUN}/.coverage.h.1.1"
    app_file(os.path.join(data, ".coverage.h.1.2"), SECRET, 0o600)
    return good, f"run-{RUN}/.coverage.h.1.2"


def intact(cov, rel, data):
    """(ok, detail): rel is in the volume cov, a regular file, byte for byte."""
    p = os.path.join(cov, rel)
    if not os.path.lexists(p):
        return False, f"{rel} is gone"
    if os.path.islink(p) or not os.path.isfile(p):
        return False, f"{rel} is no longer a regular file"
    with open(p, "rb") as fh:
        got = fh.read()
    return got == data, "" if got == data else f"{rel}: bytes differ"


def lines_naming(text, rel):
    return [ln for ln in text.splitlines() if rel in ln]


def read_line_ok(line):
    """The one error line: names the errno, the mode and owner, and the fix."""
    return ("error: the sidecar cannot read" in line and "Permission denied" in line and
            f"mode 0600, uid {APP_UID}" in line and "umask 022" in line and
            "uid/gid" in line)


def check_dest(c, label, dest, good, bad):
    """The readable file delivered once, intact, listed in its bundle's
    manifest with its SHA-256; the unreadable one in no bundle."""
    seen, mans, probs = delivered_files(dest)
    c.check(not probs, f"{label}: bundles well-formed, manifests match their entries",
            "; ".join(probs))
    if good:
        listed = [f for m in mans for f in m.get("files", []) if f.get("path") == good]
        c.check(seen.get(good.encode()) == [GOOD] and len(listed) == 1 and
                listed[0]["sha256"] == hashlib.sha256(GOOD).hexdigest(),
                f"{label}: the readable file is delivered once, in the manifest with its "
                "SHA-256", f"seen {len(seen.get(good.encode(), []))} times")
    c.check(bad.encode() not in seen and
            not any(f.get("path") == bad for m in mans for f in m.get("files", [])),
            f"{label}: the unreadable file is in no bundle and no manifest")


def self_test(c, s, cov_src, bad):
    """Control: the intact checker fails when the file is gone or changed."""
    gone, changed, same = (os.path.join(s.path, n) for n in ("ctl-gone", "ctl-changed",
                                                             "ctl-same"))
    for d in (gone, changed, same):
        shutil.copytree(cov_src, d, symlinks=True)
    os.unlink(os.path.join(gone, bad))
    with open(os.path.join(changed, bad), "r+b") as fh:
        fh.write(b"X")
    c.check(not intact(gone, bad, SECRET)[0],
            "control: the intact checker fails on a copy of the volume without the file")
    c.check(not intact(changed, bad, SECRET)[0],
            "control: the intact checker fails on a copy where one byte changed")
    c.check(intact(same, bad, SECRET)[0], "control: ... and passes on an intact copy")


def push(a, s, cov, dest, spool, env=None, name="push"):
    r = run(a.covship, ["push", "--dir", cov, "--dest", "file://" + dest, "--spool", spool],
            env=env, timeout=60, wrap=NODAC)
    err = r.stderr.decode(errors="replace")
    with open(os.path.join(s.path, name + ".log"), "w") as fh:
        fh.write(err)
    return r.returncode, err


def health(a, spool):
    r = run(a.covship, ["health", "--spool", spool], timeout=10, wrap=NODAC)
    return r.returncode, r.stdout.decode(errors="replace").strip()


def scenario_push(a, c, s):
    cov, dest, spool = s.sub("p-cov"), s.sub("p-dest"), os.path.join(s.path, "p-spool")
    good, bad = volume(cov)
    fake_done(cov, RUN)
    self_test(c, s, cov, bad)
    rc, log = push(a, s, cov, dest, spool)
    c.check(rc == 1, "push: exit 1 while a file could not be read", f"rc={rc}")
    check_dest(c, "push", dest, good, bad)
    c.check(not os.path.lexists(os.path.join(cov, good)),
            "push: the delivered readable file is removed")
    ok, why = intact(cov, bad, SECRET)
    c.check(ok, "push: the unreadable file is still in the volume, byte for byte", why)
    named = lines_naming(log, bad)
    c.check(len(named) == 1 and read_line_ok(named[0]),
            "push: exactly one error line names it, with errno, mode, uid and the fix",
            " | ".join(named) or "none")
    c.check("(1 files)" in log and "(2 files)" not in log,
            "push: \"delivered\" counts the files in the bundle, not the planned ones")
    c.check(not spool_leftovers(spool), "push: nothing left in the spool",
            str(spool_leftovers(spool)))
    rc, log = push(a, s, cov, dest, spool, name="push-again")
    named = lines_naming(log, bad)
    ok, why = intact(cov, bad, SECRET)
    c.check(rc == 1 and ok and len(named) == 1,
            "push again (the retry): exit 1, one line naming it, still intact",
            f"rc={rc} lines={len(named)} {why}")


def scenario_only_unreadable(a, c, s):
    cov, dest, spool = s.sub("o-cov"), s.sub("o-dest"), os.path.join(s.path, "o-spool")
    _, bad = volume(cov, readable=False, run_json=False)
    rc, log = push(a, s, cov, dest, spool, name="push-only")
    ok, why = intact(cov, bad, SECRET)
    named = lines_naming(log, bad)
    c.check(rc == 1, "only the unreadable file: push exits 1", f"rc={rc}")
    c.check(ok, "only the unreadable file: it is still in the volume, byte for byte", why)
    c.check(len(named) == 1 and read_line_ok(named[0]),
            "only the unreadable file: exactly one error line names it",
            " | ".join(named) or "none")
    c.check(not bundles(dest), "only the unreadable file: nothing sent", str(bundles(dest)))
    c.check(not spool_leftovers(spool), "only the unreadable file: the plan is not left "
            "behind (dropped, the file kept)", str(spool_leftovers(spool)))


def plan_files(spool):
    """{path: file object} of the (single) plan in the spool, and the plan."""
    plans = [f for f in os.listdir(spool) if f.endswith(".plan.json")]
    if len(plans) != 1:
        return {}, {}
    with open(os.path.join(spool, plans[0])) as fh:
        p = json.load(fh)
    return {f.get("path"): f for f in p.get("files", [])}, p


def scenario_restart(a, c, s):
    """The written set survives in the plan: a later process cleans up from
    it, after a failed delivery and after a kill right after the mark."""
    cov, dest, spool = s.sub("r-cov"), s.sub("r-dest"), os.path.join(s.path, "r-spool")
    good, bad = volume(cov)
    fake_done(cov, RUN)
    blocker = os.path.join(dest, RUN)  # a file where the key's directory must go
    with open(blocker, "w") as fh:
        fh.write("in the way")
    rc, log = push(a, s, cov, dest, spool, name="push-blocked")
    files, plan = plan_files(spool)
    c.check(rc == 1 and len(spool_leftovers(spool)) == 2,
            "restart: delivery blocked, the plan and its bundle wait in the spool",
            f"rc={rc} {spool_leftovers(spool)}")
    c.check(plan.get("bundled") is True and "sha256" in files.get(good, {}) and
            files[good]["sha256"] == hashlib.sha256(GOOD).hexdigest() and
            bad in files and "sha256" not in files[bad],
            "restart: the plan on disk records the written set (the readable file with "
            "its SHA-256, not the unreadable one)", json.dumps(plan)[:300])
    os.unlink(blocker)
    env = clean_env(COVSHIP_TEST_FINISH_KILL=1)  # SIGKILL right after the mark
    rc, _ = push(a, s, cov, dest, spool, env=env, name="push-killed")
    files, plan = plan_files(spool)
    c.check(rc == -signal.SIGKILL and plan.get("delivered") is True,
            "restart: killed right after the delivery was recorded", f"rc={rc}")
    ok, why = intact(cov, bad, SECRET)
    c.check(ok and os.path.exists(os.path.join(cov, good)),
            "restart: nothing removed yet", why)
    rc, log = push(a, s, cov, dest, spool, name="push-finish")
    ok, why = intact(cov, bad, SECRET)
    c.check(rc == 1 and ok, "restart: the clean-up from the plan on disk keeps the "
            "unreadable file, byte for byte", f"rc={rc} {why}")
    c.check(not os.path.lexists(os.path.join(cov, good)),
            "restart: ... and removes the delivered one")
    check_dest(c, "restart", dest, good, bad)


def scenario_watch(a, c, s):
    cov, dest, spool = s.sub("w-cov"), s.sub("w-dest"), os.path.join(s.path, "w-spool")
    fake_run(cov, RUN)
    w = Watch(a.covship, ["--dir", cov, "--dest", "file://" + dest, "--spool", spool,
                          "--retry-max", "2", "--drain-timeout", "30"],
              os.path.join(s.path, "watch.log"), wrap=NODAC)
    s.cleanups.append(w.kill)
    c.check(w.wait_started(spool), "watch: started without DAC capabilities")
    good, bad = volume(cov)
    t0 = time.monotonic()
    fake_done(cov, RUN)
    wait_for(lambda: not os.path.lexists(os.path.join(cov, good)), 15, 0.1)
    check_dest(c, "watch", dest, good, bad)
    c.check(not os.path.lexists(os.path.join(cov, good)),
            "watch: the delivered readable file is removed")
    wait_for(lambda: health(a, spool)[0] == 1, 10, 0.2)
    rc, out = health(a, spool)
    c.check(rc == 1 and "degraded" in out and bad in out and "umask 022" in out,
            "watch: health reports degraded, naming the file and the fix", f"rc={rc} {out}")
    time.sleep(5)  # retries with backoff: 1, 2, 2 s (--retry-max 2)
    log = w.log()
    elapsed = time.monotonic() - t0
    named = lines_naming(log, bad)
    planned = [ln for ln in log.splitlines() if "info: planned " in ln]
    c.check(2 <= len(named) <= elapsed / 1.0 + 2 and all(read_line_ok(n) for n in named),
            "watch: retried with backoff, each attempt one error line naming it",
            f"{len(named)} lines in {elapsed:.1f} s")
    c.check(len(named) == len(planned), "watch: one line per attempt (per plan)",
            f"{len(named)} lines, {len(planned)} plans")
    ok, why = intact(cov, bad, SECRET)
    c.check(ok, "watch: the unreadable file is still in the volume, byte for byte", why)
    t1 = time.monotonic()
    w.signal(signal.SIGTERM)
    rc = w.wait(25)
    took = time.monotonic() - t1
    log = w.log()
    c.check(rc == 1 and took < 10, "watch: the drain ends with exit 1, without waiting for "
            "the drain timeout", f"rc={rc} after {took:.1f} s")
    c.check("could not be read and stay there" in log and "drained: everything" not in log,
            "watch: the drain says what could not be read")
    ok, why = intact(cov, bad, SECRET)
    c.check(ok, "watch: after the drain the unreadable file is still intact", why)
    with open(os.path.join(spool, "status.json")) as fh:
        state = json.load(fh).get("state")
    c.check(state == "stopped-with-leftovers", "watch: status stopped-with-leftovers", state)


def scenario_watch_recovers(a, c, s):
    """Only the unreadable file, under a watcher: degraded; once the app's
    file is readable, the next retry delivers it and removes it."""
    cov, dest, spool = s.sub("v-cov"), s.sub("v-dest"), os.path.join(s.path, "v-spool")
    fake_run(cov, RUN)
    w = Watch(a.covship, ["--dir", cov, "--dest", "file://" + dest, "--spool", spool,
                          "--retry-max", "1", "--drain-timeout", "20"],
              os.path.join(s.path, "watch-recover.log"), wrap=NODAC)
    s.cleanups.append(w.kill)
    w.wait_started(spool)
    _, bad = volume(cov, readable=False)
    fake_done(cov, RUN)
    wait_for(lambda: health(a, spool)[0] == 1, 10, 0.2)
    rc, out = health(a, spool)
    ok, why = intact(cov, bad, SECRET)
    c.check(rc == 1 and "degraded" in out and ok,
            "recovery: only the unreadable file: degraded, the file kept", f"{out} {why}")
    if not ok:
        return  # nothing left to recover (the checks above said why)
    os.chmod(os.path.join(cov, bad), 0o644)  # the fix: umask 022
    wait_for(lambda: not os.path.lexists(os.path.join(cov, bad)), 15, 0.1)
    seen, _, probs = delivered_files(dest)
    c.check(seen.get(bad.encode()) == [SECRET] and not probs,
            "recovery: readable now, it is delivered intact by a later bundle",
            f"{len(seen.get(bad.encode(), []))} copies {probs}")
    c.check(not os.path.lexists(os.path.join(cov, bad)), "recovery: ... and then removed")
    wait_for(lambda: health(a, spool)[0] == 0, 10, 0.2)
    rc, out = health(a, spool)
    c.check(rc == 0, "recovery: health is back to healthy", out)
    w.signal(signal.SIGTERM)
    rc = w.wait(25)
    c.check(rc == 0, "recovery: the drain exits 0", f"rc={rc}")


a = parse_args()
if os.geteuid() != 0:
    skip("needs root (files of another uid)")
if not SETPRIV:
    skip("setpriv not found (util-linux)")
c = Checker("sidecar unreadable files (the deletion rule)")
with Scratch(a.keep) as s:
    probe = os.path.join(s.path, "probe")
    app_file(probe, b"x", 0o600)
    r = subprocess.run(NODAC + ["cat", probe], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode == 0 or b"Permission denied" not in r.stderr:
        skip("setpriv cannot drop CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH here: "
             + r.stderr.decode(errors="replace").strip())
    c.info("without DAC capabilities a 0600 file of another uid is unreadable: "
           "the scenario is real")
    scenario_push(a, c, s)
    scenario_only_unreadable(a, c, s)
    scenario_restart(a, c, s)
    scenario_watch(a, c, s)
    scenario_watch_recovers(a, c, s)
c.finish()
