"""Issue 12, test 3: `pull --junit FILE --summary FILE`, the delivery report.

One pull of four task runs: one whose shim marker says `complete`, one
`grace-expired` (the shim killed two processes), one without a marker, one
whose only bundle is corrupt. The JUnit XML validates with `xmllint
--schema` against tests/pull/junit.xsd (the format Jenkins' junit step
reads), has exactly 1 passing and 3 failing cases with the expected
messages, names hostname, ECS task id and build, lists every file and its
size in system-out, and survives a file name full of XML specials and
control bytes. The JSON summary says the same with totals.

Controls: a deliberately invalid JUnit file fails the same xmllint check,
and the count checker catches a report with a wrong pass/fail count.

usage: test_pull_junit.py COVSHIP XSD"""
import copy
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import (bundle_name, check, manifest, marker, pull, run_id,  # noqa: E402
                      scratch, write_bundle)

COVSHIP, XSD = sys.argv[1], sys.argv[2]
EXIT_CORRUPT = 3
ODD = "run-x/.coverage.h&<\"'>\x01\x1b\u00e9.1"  # the escaping under test


def xmllint(path):
    p = subprocess.run(["xmllint", "--noout", "--schema", XSD, path],
                       capture_output=True, text=True)
    sys.stdout.write(p.stderr)
    return p.returncode == 0


def counts(root):
    """(passed, failed) of the one testsuite, checked against its attributes."""
    suites = root.findall("testsuite")
    if root.tag != "testsuites" or len(suites) != 1:
        raise AssertionError("not one testsuite")
    s = suites[0]
    cases = s.findall("testcase")
    failed = sum(1 for c in cases if c.find("failure") is not None)
    for el in (root, s):
        if int(el.get("tests")) != len(cases) or int(el.get("failures")) != failed:
            raise AssertionError("%s counts %s/%s, cases %d/%d" % (
                el.tag, el.get("tests"), el.get("failures"), len(cases), failed))
    return len(cases) - failed, failed


def expect_counts(root, passed, failed):
    try:
        return counts(root) == (passed, failed)
    except AssertionError as e:
        print("count check: %s" % e)
        return False


def run(rid, host, task, build, mark, files, top, corrupt=False):
    m = manifest(rid, files, mark)
    m["metadata"].update({"hostname": host, "build_tag": build,
                          "ecs": {"task_arn": "arn:aws:ecs:eu-west-1:1:task/c/" + task,
                                  "cluster": "c", "container_name": "app"}})
    path = os.path.join(top, "src", bundle_name(rid))
    write_bundle(path, [("file", p, b) for p, b in files], m)
    if corrupt:
        with open(path, "r+b") as f:
            f.seek(os.path.getsize(path) // 2)
            b = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([b[0] ^ 0xFF]))


def main():
    a, b, c, d = (run_id(n) for n in (41, 42, 43, 44))
    with scratch() as top:
        os.makedirs(os.path.join(top, "src"))
        run(a, "ip-10-0-0-1", "taskA", "jenkins-app-7", marker(a),
            [("run-a/.coverage.h.1.1", b"x" * 100), (ODD, b"y" * 7)], top)
        gm = marker(b, "grace-expired")
        gm["descendants"] = [
            {"pid": 41, "exit_code": None, "signal": 9, "killed_at_grace": True},
            {"pid": 42, "exit_code": None, "signal": 9, "killed_at_grace": True,
             "command": "gunicorn: worker [app.wsgi]"},
            {"pid": 43, "exit_code": 0, "signal": None, "killed_at_grace": False}]
        run(b, "ip-10-0-0-2", "taskB", "jenkins-app-7", gm,
            [("run-b/.coverage.h.2.1", b"z" * 10)], top)
        run(c, "ip-10-0-0-3", "taskC", "jenkins-app-7", None,
            [("run-c/.coverage.h.3.1", b"w" * 20)], top)
        run(d, "ip-10-0-0-4", "taskD", "jenkins-app-7", marker(d),
            [("run-d/.coverage.h.4.1", os.urandom(30000))], top, corrupt=True)

        junit = os.path.join(top, "reports", "delivery.xml")
        summary = os.path.join(top, "reports", "delivery.json")
        os.makedirs(os.path.dirname(junit))
        p = pull(COVSHIP, ["file://" + os.path.join(top, "src"), "--out",
                           os.path.join(top, "out"), "--junit", junit, "--summary", summary])
        check(p.returncode == EXIT_CORRUPT, "the pull exits 3 (a corrupt bundle)")
        check(os.path.isfile(junit) and os.path.isfile(summary),
              "both reports are written although the pull failed")
        check(not [f for f in os.listdir(os.path.dirname(junit)) if f.startswith(".")],
              "no temporary file is left next to them")
        check(xmllint(junit), "the JUnit XML validates against tests/pull/junit.xsd")
        root = ET.parse(junit).getroot()
        check(expect_counts(root, 1, 3), "exactly 1 passing and 3 failing cases")
        cases = {cs.get("name"): cs for cs in root.iter("testcase")}
        check(sorted(cases) == sorted([a, b, c, d]), "one case per run, named by run id")

        def fail_msg(rid):
            f = cases[rid].find("failure")
            return None if f is None else f.get("message")

        def props(rid):
            return {pr.get("name"): pr.get("value")
                    for pr in cases[rid].find("properties").iter("property")}

        check(fail_msg(a) is None, "complete: passes")
        check(fail_msg(b) == "the grace period expired: the shim killed pid 41, pid 42 "
              "(gunicorn: worker [app.wsgi]) before they flushed their coverage (raise "
              "--grace and the stop timeout)", "grace-expired: names the killed pids and "
              "commands")
        check(fail_msg(c).startswith("the shim's done marker never arrived (none of the "
                                     "run's 1 verified bundle(s) carries it)"),
              "no marker: says the marker never arrived")
        check(fail_msg(d).startswith("bundle %s failed verification: " % bundle_name(d))
              and "nothing of it was extracted" in fail_msg(d),
              "corrupt: names the bundle that failed verification")
        check(props(a) == {"hostname": "ip-10-0-0-1", "ecs_task_id": "taskA",
                           "build": "jenkins-app-7", "bundles": "1"},
              "properties: hostname, ECS task id, build")
        out_a = cases[a].find("system-out").text
        rel = bundle_name(a)[:-7]
        check("         100  %s/run-a/.coverage.h.1.1" % rel in out_a
              and "           7  %s/run-x/.coverage.h&<\"'>??\u00e9.1" % rel in out_a,
              "system-out lists every file with its size (control bytes replaced)")
        check(cases[a].get("classname") == "coverage delivered", "classname")

        with open(summary) as f:
            s = json.load(f)
        check(s["totals"] == {"runs": 4, "delivered": 1, "failed": 3, "bundles": 3,
                              "bundles_bad": 1, "files": 4, "bytes": 137},
              "summary totals")
        runs = {r["run_id"]: r for r in s["runs"]}
        check(runs[a]["delivered"] and not runs[b]["delivered"], "summary: verdicts")
        check([k["pid"] for k in runs[b]["killed"]] == [41, 42]
              and runs[b]["killed"][1]["command"] == "gunicorn: worker [app.wsgi]",
              "summary: killed processes")
        check(runs[b]["failures"] == [fail_msg(b)], "summary: the same message as JUnit")
        check({f["path"] for f in runs[a]["files"]} ==
              {rel + "/run-a/.coverage.h.1.1", rel + "/" + ODD}, "summary: file names")

        # Controls: the schema check and the count check can fail.
        bad = os.path.join(top, "invalid.xml")
        with open(bad, "w") as f:
            f.write('<?xml version="1.0"?>\n<testsuites><testsuite name="x" tests="many">'
                    '<testcase classname="no name"/></testsuite></testsuites>\n')
        check(not xmllint(bad), "control: an invalid JUnit file fails the xmllint check")
        doctored = copy.deepcopy(root)
        for cs in doctored.iter("testcase"):
            f = cs.find("failure")
            if f is not None:
                cs.remove(f)
                break
        check(not expect_counts(doctored, 1, 3),
              "control: a report with a wrong pass/fail count is caught")
        check(not expect_counts(root, 2, 2), "control: a wrong expectation is caught")

        # An empty source still writes a report that fails, not an empty suite.
        os.makedirs(os.path.join(top, "empty"))
        p = pull(COVSHIP, ["file://" + os.path.join(top, "empty"), "--out",
                           os.path.join(top, "out2"), "--junit", junit])
        check(p.returncode == 1 and xmllint(junit)
              and expect_counts(ET.parse(junit).getroot(), 0, 1),
              "no bundles: one failing case")
        p = pull(COVSHIP, ["file://" + os.path.join(top, "src"), "--out",
                           os.path.join(top, "out3"), "--junit",
                           os.path.join(top, "missing", "x.xml")])
        check(p.returncode == EXIT_CORRUPT and "--junit: cannot write" in p.stderr,
              "an unwritable report is one line")
    print("PASS")


if __name__ == "__main__":
    main()
