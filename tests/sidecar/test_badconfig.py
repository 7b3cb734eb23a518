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
