"""`covship pull` and the shim's done marker: a run is complete only when
one of its bundles carries a marker of the same run saying "complete".
No marker, "grace-expired" or another run's marker → exit 4 with a clear
message; --allow-incomplete turns that into a warning (exit 0). Control: a
complete marker passes, also when only the last of several bundles has it
(the snapshot bundles before it have none).

usage: test_pull_markers.py COVSHIP APP_DIR"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import (bundle_name, check, manifest, marker, pull, run_id,  # noqa: E402
                      scratch, write_bundle)

COVSHIP = sys.argv[1]
EXIT_INCOMPLETE = 4


def case(top, name, bundles, expect, message=None, extra=()):
    """bundles: list of (run_id, seq, marker-or-None)."""
    src = os.path.join(top, name, "src")
    os.makedirs(src)
    for rid, seq, mark in bundles:
        files = [("run-%s/.coverage.h.%d.1" % (rid[:6], seq), os.urandom(64))]
        write_bundle(os.path.join(src, bundle_name(rid, seq)),
                     [("file", p, b) for p, b in files], manifest(rid, files, mark, seq))
    p = pull(COVSHIP, ["file://" + src, "--out", os.path.join(top, name, "out")]
             + list(extra))
    check(p.returncode == expect, "%s: exit %d" % (name, expect))
    if message:
        check(message in p.stderr, "%s: says %r" % (name, message))
    return p


def main():
    a, b = run_id(31), run_id(32)
    with scratch() as top:
        case(top, "complete", [(a, 1, marker(a))], 0)
        case(top, "last-of-several", [(a, 1, None), (a, 2, None), (a, 3, marker(a))], 0)
        case(top, "no-marker", [(a, 1, None)], EXIT_INCOMPLETE,
             "none of its 1 bundle(s) carries the shim's done marker")
        case(top, "grace-expired", [(a, 1, marker(a, "grace-expired"))], EXIT_INCOMPLETE,
             "its done marker says 'grace-expired'")
        case(top, "other-run", [(a, 1, marker(b))], EXIT_INCOMPLETE,
             "the done marker of another run")
        case(top, "one-of-two-runs", [(a, 1, marker(a)), (b, 1, None)], EXIT_INCOMPLETE,
             "run " + b)
        p = case(top, "allowed", [(a, 1, marker(a, "grace-expired"))], 0,
                 "continuing because of --allow-incomplete", ["--allow-incomplete"])
        check("warning:" in p.stderr, "allowed: reported as a warning")
        # The data is extracted even when the exit status is 4: Jenkins can
        # still archive it.
        check(os.path.isdir(os.path.join(top, "no-marker", "out", bundle_name(a)[:-7])),
              "no-marker: the verified files are extracted all the same")
    print("PASS")


if __name__ == "__main__":
    main()
