#!/usr/bin/python3
"""Test 6: every bad configuration gives one clear line and exit 2 at start.

Control: the same command with the mistake fixed exits 0 (so the checks
would notice a covship that exits 2 for everything, or never)."""
import json
import os
import stat

from sidecarlib import Checker, Scratch, clean_env, parse_args, run

a = parse_args()
c = Checker("sidecar bad configuration")
with Scratch(a.keep) as s:
    cov = s.sub("cov")
    dest = s.sub("dest")
    spool = os.path.join(s.path, "spool")
    ro = s.sub("ro")
    os.chmod(ro, 0o500)
    blocker = os.path.join(s.path, "afile")
    open(blocker, "w").close()
    good = ["--dir", cov, "--dest", "file://" + dest, "--spool", spool]
    # Paths that must stay apart (issue 11): compared resolved, component by
    # component. inside/: a destination in the volume; alias -> cov/via (a
    # symlink only realpath sees through); outer/cov: a volume in the
    # destination; cov-out and covspool: near misses ("/a/bc" vs "/a/b").
    inside = s.sub("cov/out")
    s.sub("cov/via")
    alias = os.path.join(s.path, "alias")
    os.symlink(os.path.join(cov, "via"), alias)
    outer = s.sub("outer")
    outer_cov = s.sub("outer/cov")
    near_dest = s.sub("cov-out")
    near_spool = os.path.join(s.path, "covspool")

    def without(opt):
        i = good.index(opt)
        return good[:i] + good[i + 2:]

    cases = [
        # (what, argv after the subcommand, env, word the line must hold)
        ("missing --dir", without("--dir"), {}, "--dir"),
        ("missing --dest", without("--dest"), {}, "--dest"),
        ("--dir that does not exist", ["--dir", cov + "/nope"] + good[2:], {}, "--dir"),
        ("unknown --format", good + ["--format", "cobol"], {}, "cobol"),
        ("unknown COVSHIP_FORMAT", good, {"COVSHIP_FORMAT": "cobol"}, "cobol"),
        ("malformed dest URL (no scheme)", without("--dest") + ["--dest", dest], {}, "scheme"),
        ("malformed dest URL (relative file path)", without("--dest") + ["--dest", "file://rel/x"], {}, "absolute"),
        ("malformed dest URL (ftp)", without("--dest") + ["--dest", "ftp://h/x"], {}, "scheme"),
        ("dest dir missing", without("--dest") + ["--dest", "file://" + dest + "/missing"], {}, "not a directory"),
        ("unwritable spool (under a file)", without("--spool") + ["--spool", blocker + "/spool"], {}, "spool"),
        ("unknown key template variable", good + ["--key-template", "{nope}/{bundle}"], {}, "nope"),
        ("key template with ..", good + ["--key-template", "../{bundle}"], {}, ".."),
        ("bad number", good + ["--drain-timeout", "ten"], {}, "drain-timeout"),
        ("unknown option", good + ["--frobnicate"], {}, "frobnicate"),
        ("unknown compression", good + ["--compression", "lzma"], {}, "lzma"),
        ("bad COVSHIP_LOG_LEVEL", good, {"COVSHIP_LOG_LEVEL": "loud"}, "loud"),
        ("file:// dest inside --dir", without("--dest") + ["--dest", "file://" + inside], {},
         "inside --dir"),
        ("file:// dest is --dir itself", without("--dest") + ["--dest", "file://" + cov + "/"],
         {}, "inside --dir"),
        ("file:// dest inside --dir through a symlink",
         without("--dest") + ["--dest", "file://" + alias], {}, "inside --dir"),
        ("--spool inside --dir (not created yet)",
         without("--spool") + ["--spool", os.path.join(cov, "spool")], {}, "--spool"),
        ("--spool inside --dir, by a relative path with ..",
         without("--spool") + ["--spool", os.path.relpath(os.path.join(cov, "x", "..", "sp"))],
         {}, "--spool"),
        ("--dir inside the file:// dest",
         ["--dir", outer_cov, "--dest", "file://" + outer, "--spool", spool], {},
         "inside --dest"),
        ("key template without {bundle} or {seq}", good + ["--key-template", "{run_id}/x.tgz"],
         {}, "{bundle}"),
        ("key template without {bundle} or {run_id}",
         good + ["--key-template", "{build}/{seq}.tgz"], {}, "{bundle}"),
    ]
    if os.geteuid() != 0:
        cases.append(("unwritable spool (read-only dir)",
                      without("--spool") + ["--spool", ro + "/spool"], {}, "spool"))
    for cmd in ("watch", "push"):
        for what, argv, env, word in cases:
            r = run(a.covship, [cmd] + argv, env=clean_env(**env), timeout=20)
            lines = r.stderr.decode(errors="replace").strip().splitlines()
            c.check(r.returncode == 2 and len(lines) == 1 and word in lines[0],
                    f"{cmd}: {what} -> exit 2 with one line naming '{word}'",
                    f"rc={r.returncode} stderr={lines!r}")
    c.check(not os.path.exists(os.path.join(cov, "spool")) and
            not os.path.exists(os.path.join(cov, "sp")),
            "a spool refused inside --dir was not created there")
    # Near misses are accepted: a destination and a spool whose paths start
    # with --dir's as strings but are not inside it; a key template with
    # {run_id}, {spool_id} and {seq} and no {bundle}.
    for what, argv in (
            ("dest /x/cov-out next to --dir /x/cov",
             without("--dest") + ["--dest", "file://" + near_dest]),
            ("spool /x/covspool next to --dir /x/cov",
             without("--spool") + ["--spool", near_spool]),
            ("key template {run_id}-{spool_id}-{seq}.tgz",
             good + ["--key-template", "{run_id}-{spool_id}-{seq}.tgz"])):
        r = run(a.covship, ["push"] + argv, timeout=20)
        c.check(r.returncode == 0, f"near miss accepted: {what}",
                f"rc={r.returncode} {r.stderr!r}")
    # Control: the fixed configuration is accepted (push: nothing to do, exit 0).
    r = run(a.covship, ["push"] + good, timeout=20)
    c.check(r.returncode == 0, "control: the same push without the mistake exits 0",
            f"rc={r.returncode} {r.stderr!r}")
    r = run(a.covship, ["push"], env=clean_env(COVSHIP_DIR=cov, COVSHIP_DEST="file://" + dest,
                                               COVSHIP_SPOOL=spool), timeout=20)
    c.check(r.returncode == 0, "control: the same settings through COVSHIP_* exit 0",
            f"rc={r.returncode} {r.stderr!r}")
    # push takes only the options its --help lists: a watch-only one is an
    # error, not silently ignored (control: watch rejects the bad value of it).
    r = run(a.covship, ["push"] + good + ["--drain-timeout", "5"], timeout=20)
    lines = r.stderr.decode(errors="replace").strip().splitlines()
    c.check(r.returncode == 2 and len(lines) == 1 and "--drain-timeout" in lines[0],
            "push: a watch-only option -> exit 2 with one line naming it",
            f"rc={r.returncode} stderr={lines!r}")
    # The same one line, as one JSON object, with --log-format json
    # (control: the text form above is not JSON).
    for how, argv, env in (("--log-format json", ["--log-format", "json"], {}),
                           ("COVSHIP_LOG_FORMAT=json", [], {"COVSHIP_LOG_FORMAT": "json"})):
        r = run(a.covship, ["watch"] + argv + good + ["--format", "cobol"],
                env=clean_env(**env), timeout=20)
        lines = r.stderr.decode(errors="replace").strip().splitlines()
        try:
            obj = json.loads(lines[0]) if len(lines) == 1 else None
        except ValueError:
            obj = None
        c.check(r.returncode == 2 and obj is not None and obj.get("level") == "error"
                and "cobol" in obj.get("message", ""),
                f"{how}: the bad-configuration line is one JSON object", f"{lines!r}")
    r = run(a.covship, ["watch"] + good + ["--format", "cobol"], timeout=20)
    c.check(not r.stderr.startswith(b"{"), "control: the default log line is text",
            repr(r.stderr))
    r = run(a.covship, ["watch", "--help"])
    c.check(r.returncode == 0 and b"--drain-timeout" in r.stdout and b"COVSHIP_SPOOL" in r.stdout,
            "watch --help lists options and their variables")
c.finish()
