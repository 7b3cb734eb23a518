"""Issue 12, test 2 (second half): does the Jenkinsfile stop the task, pull
the coverage and record it when the tests fail? No Jenkins runs here, so this
driver reads the declarative pipeline itself and interprets the few
constructs the Jenkinsfile uses, with Jenkins' semantics:

  pipeline { agent options environment stages post }
  stage('name') { steps { ... } }   a failed stage skips the later stages
  catchError(buildResult:, stageResult:) { ... }   a failure inside marks
                                    the build FAILURE and goes on
  post { always { ... } }           runs whatever happened before
  NAME = '...' / "...${env.NAME}..."   environment entries
  sh '...' / sh '''...'''           run by /bin/sh -xe, like Jenkins' sh
  recordCoverage(...) publishHTML(...)   recorded as "report" steps

Anything else (another step, a `when`, `parallel`, a post condition other
than `always`, a "..." string outside `environment`, any other ${...})
stops the driver with an
error: it never guesses.

The stand-in (the one place this test uses one, and only for what needs AWS):
`aws` and `covship` on PATH are small scripts that log their arguments (one
JSON array a line) and answer like ECS (a task ARN, containers' exit codes
0) and like a successful pull (coverage-out/coverage.xml,
coverage-html/index.html). The test step `./run-e2e-tests.sh` exits 1.
Everything else is the Jenkinsfile's own shell code, run for real, in a
workspace whose path holds a space, with a BUILD_TAG of a multibranch job.

It asserts that with the failing test step the build is FAILURE and still
the task is stopped (stop-task, wait tasks-stopped, describe-tasks),
`covship pull --build "$BUILD_TAG"` runs with `--map` as one argument
despite the space, and both report steps run. Control: the same driver on
the Jenkinsfile of the parent commit (`git show HEAD:...`, passed as
--control FILE) must show the stop and the pull skipped.

usage: jenkinsfile_driver.py JENKINSFILE [--control OLD_JENKINSFILE |
                                          --control-rev SRCDIR GIT_REV]
       jenkinsfile_driver.py --markdown DOCS_MD   (the ```groovy pipeline block)"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


class Unknown(Exception):
    pass


class StepFailed(Exception):
    pass


TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<str3>'''(?:.|\n)*?''')
  | (?P<str1>'(?:[^'\\\n]|\\.)*')
  | (?P<strd>"(?:[^"\\\n]|\\.)*")
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}()\[\],:=])
""", re.X | re.S)


def tokenize(text):
    toks, i = [], 0
    while i < len(text):
        m = TOKEN.match(text, i)
        if not m:
            raise Unknown("cannot read the Jenkinsfile at %r" % text[i:i + 40])
        i = m.end()
        kind = m.lastgroup
        if kind in ("ws", "comment"):
            continue
        v = m.group(kind)
        if kind == "str3":
            toks.append(("str", v[3:-3]))
        elif kind == "str1":
            toks.append(("str", v[1:-1].replace("\\'", "'").replace("\\\\", "\\")))
        elif kind == "strd":
            toks.append(("gstr", v[1:-1]) if "$" in v else ("str", v[1:-1]))
        else:
            toks.append((kind, v))
    return toks


class Parser:
    """Blocks of items; an item is NAME [(args)] [STRING] [{ items }] or
    NAME = STRING. Arguments are kept as raw tokens (not interpreted)."""

    def __init__(self, toks):
        self.t, self.i = toks, 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self, kind=None, value=None):
        k, v = self.peek()
        if k is None or (kind and k != kind) or (value and v != value):
            raise Unknown("expected %s %s, found %r" % (kind, value or "", v))
        self.i += 1
        return v

    def balanced(self, open_, close):
        depth, out = 0, []
        while True:
            k, v = self.peek()
            if k is None:
                raise Unknown("unbalanced %s" % open_)
            self.i += 1
            if v == open_:
                depth += 1
            elif v == close:
                depth -= 1
                if depth == 0:
                    return out
            out.append((k, v))

    def items(self):
        out = []
        while self.peek()[1] not in ("}", None):
            name = self.take("ident")
            item = {"name": name, "args": None, "str": None, "body": None, "value": None}
            if self.peek()[1] == "=":
                self.take()
                k, v = self.peek()
                if k not in ("str", "gstr"):
                    raise Unknown("%s = %r: not a string" % (name, v))
                self.i += 1
                item["value"] = (k, v)
                out.append(item)
                continue
            if self.peek()[1] == "(":
                item["args"] = self.balanced("(", ")")[1:]
            if self.peek()[0] == "str":
                item["str"] = self.take()
            elif item["args"] and len(item["args"]) == 1 and item["args"][0][0] == "str":
                item["str"] = item["args"][0][1]  # stage('name')
            if self.peek()[1] == "{":
                self.take()
                item["body"] = self.items()
                self.take("punct", "}")
            out.append(item)
        return out


def parse(text):
    p = Parser(tokenize(text))
    top = p.items()
    if p.peek()[0] is not None or len(top) != 1 or top[0]["name"] != "pipeline":
        raise Unknown("the file must hold exactly one pipeline { }")
    return top[0]["body"]


class Build:
    def __init__(self, ws, env, log):
        self.ws, self.env, self.log = ws, env, log
        self.result = "SUCCESS"
        self.events = []  # ("sh", first line) / ("report", name) / ("stage", name, result)

    def steps(self, items):
        for it in items:
            self.step(it)

    def step(self, it):
        n = it["name"]
        if n == "sh":
            if it["str"] is None:
                raise Unknown("sh without a literal script")
            self.sh(it["str"])
        elif n == "catchError":
            args = " ".join(v for _, v in it["args"] or [])
            if "buildResult" not in args or it["body"] is None:
                raise Unknown("catchError without buildResult or body")
            try:
                self.steps(it["body"])
            except StepFailed as e:
                self.events.append(("caught", str(e)))
                self.result = "FAILURE"
        elif n in ("recordCoverage", "publishHTML"):
            self.events.append(("report", n))
        else:
            raise Unknown("step %r is not known to this driver" % n)

    def sh(self, script):
        first = next((ln.strip() for ln in script.splitlines() if ln.strip()), "")
        self.events.append(("sh", first))
        r = subprocess.run(["/bin/sh", "-xe", "-c", script], cwd=self.ws, env=self.env,
                           stdout=self.log, stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise StepFailed("sh %r exited %d" % (first[:60], r.returncode))


def interpolate(value, env):
    """'...' as is; "..." with ${env.NAME} only (what the old file used)."""
    kind, text = value
    if kind == "str":
        return text
    out = re.sub(r"\$\{env\.([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), "null"),
                 text)
    if "$" in out:
        raise Unknown("a Groovy interpolation other than ${env.NAME}: %s" % text)
    return out


def run_pipeline(body, b):
    known = {"agent", "options", "environment", "stages", "post"}
    for it in body:
        if it["name"] not in known:
            raise Unknown("pipeline section %r is not known to this driver" % it["name"])
    for it in body:
        if it["name"] == "environment":
            for v in it["body"]:
                if v["value"] is None:
                    raise Unknown("environment entry %r is not NAME = 'string'" % v["name"])
                b.env[v["name"]] = interpolate(v["value"], b.env)
    failed = False
    for it in body:
        if it["name"] != "stages":
            continue
        for st in it["body"]:
            if st["name"] != "stage" or not st["body"] or st["body"][0]["name"] != "steps" \
                    or len(st["body"]) != 1:
                raise Unknown("stage %r is not stage('name') { steps { } }" % st.get("str"))
            if failed:  # Jenkins skips the stages after a failed one
                b.events.append(("stage", st["str"], "SKIPPED"))
                continue
            try:
                b.steps(st["body"][0]["body"])
                b.events.append(("stage", st["str"], "ran"))
            except StepFailed as e:
                b.events.append(("stage", st["str"], "FAILED: %s" % e))
                b.result = "FAILURE"
                failed = True
    for it in body:
        if it["name"] != "post":
            continue
        for cond in it["body"]:
            if cond["name"] != "always":
                raise Unknown("post condition %r is not known to this driver" % cond["name"])
            try:
                b.steps(cond["body"])
            except StepFailed as e:
                b.events.append(("post", "FAILED: %s" % e))
                b.result = "FAILURE"


FAKE_AWS = r"""#!/bin/sh
# stand-in for ECS (jenkinsfile_driver.py): logs, answers like a real task
python3 -c 'import json,sys; print(json.dumps(["aws"]+sys.argv[1:]))' "$@" >> "$DRIVER_LOG"
case "$1 $2" in
"ecs run-task") echo "arn:aws:ecs:eu-west-1:123456789012:task/test/0123456789abcdef" ;;
"ecs describe-tasks") printf 'app\t0\ncovship\t0\n' ;;
esac
exit 0
"""

FAKE_COVSHIP = r"""#!/bin/sh
# stand-in for covship pull against S3 (jenkinsfile_driver.py)
python3 -c 'import json,sys; print(json.dumps(["covship"]+sys.argv[1:]))' "$@" >> "$DRIVER_LOG"
mkdir -p coverage-out coverage-html
echo '<coverage line-rate="0.9"/>' > coverage-out/coverage.xml
echo '<html></html>' > coverage-html/index.html
"""


def drive(jenkinsfile_text):
    """Run the pipeline with a failing test step; return (build, calls)."""
    body = parse(jenkinsfile_text)
    top = tempfile.mkdtemp(prefix="jenkinsfile-driver.")
    try:
        ws = os.path.join(top, "work space")  # a workspace path with a space
        bindir = os.path.join(top, "bin")
        os.makedirs(ws)
        os.makedirs(bindir)
        for name, text in (("aws", FAKE_AWS), ("covship", FAKE_COVSHIP)):
            with open(os.path.join(bindir, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(bindir, name), 0o755)
        with open(os.path.join(ws, "run-e2e-tests.sh"), "w") as f:
            f.write("#!/bin/sh\necho 'e2e: 3 tests failed'\nexit 1\n")
        os.chmod(os.path.join(ws, "run-e2e-tests.sh"), 0o755)
        log = os.path.join(top, "calls")
        env = {"PATH": bindir + ":/usr/bin:/bin", "HOME": top, "WORKSPACE": ws,
               "BUILD_TAG": "jenkins-My App-feature%2Fx-42", "GIT_COMMIT": "0" * 40,
               "DRIVER_LOG": log, "LC_ALL": "C.UTF-8"}
        with open(os.path.join(top, "output"), "w") as out:
            b = Build(ws, env, out)
            run_pipeline(body, b)
        with open(os.path.join(top, "output")) as f:
            sys.stdout.write(f.read()[-3000:])
        calls = []
        if os.path.exists(log):
            with open(log) as f:
                calls = [json.loads(ln) for ln in f]
        return b, calls, ws
    finally:
        shutil.rmtree(top, ignore_errors=True)


def verdict(b, calls, ws):
    """What the pipeline did after the failing test step."""
    stopped = any(c[:3] == ["aws", "ecs", "stop-task"] for c in calls)
    waited = any(c[:4] == ["aws", "ecs", "wait", "tasks-stopped"] for c in calls)
    described = any(c[:3] == ["aws", "ecs", "describe-tasks"] for c in calls)
    pulls = [c for c in calls if c[:2] == ["covship", "pull"]]
    pulled = bool(pulls)
    build_arg = bool(pulls) and "--build" in pulls[0] and \
        pulls[0][pulls[0].index("--build") + 1] == "jenkins-My App-feature%2Fx-42"
    map_arg = bool(pulls) and "/app=" + ws in pulls[0]
    reports = {e[1] for e in b.events if e[0] == "report"}
    return {"result": b.result, "stopped": stopped and waited, "exit codes": described,
            "pulled": pulled, "pull --build": build_arg, "quoted --map": map_arg,
            "recordCoverage": "recordCoverage" in reports,
            "publishHTML": "publishHTML" in reports}


def markdown_pipeline(path):
    with open(path) as f:
        text = f.read()
    blocks = re.findall(r"```groovy\n(.*?)```", text, re.S)
    full = [blk for blk in blocks if re.search(r"^pipeline \{", blk, re.M)]
    if len(full) != 1:
        raise Unknown("%s: want exactly one ```groovy block with a whole pipeline, found %d"
                      % (path, len(full)))
    return full[0]


def main():
    args = sys.argv[1:]
    if args[:1] == ["--markdown"]:
        sys.stdout.write(markdown_pipeline(args[1]))
        return 0
    with open(args[0]) as f:
        text = f.read()
    ok = True
    b, calls, ws = drive(text)
    v = verdict(b, calls, ws)
    print("events:", json.dumps(b.events, indent=1))
    print("verdict:", v)
    want = {"result": "FAILURE", "stopped": True, "exit codes": True, "pulled": True,
            "pull --build": True, "quoted --map": True, "recordCoverage": True,
            "publishHTML": True}
    for k, w in want.items():
        good = v[k] == w
        ok &= good
        print("%s: %s is %r after a failing test step" % ("ok" if good else "FAIL", k, v[k]))
    old = None
    if "--control" in args:
        with open(args[args.index("--control") + 1]) as f:
            old = f.read()
    if "--control-rev" in args:  # SRCDIR REV: git show REV:docker/jenkins/Jenkinsfile
        i = args.index("--control-rev")
        old = subprocess.run(["git", "-C", args[i + 1], "show",
                              args[i + 2] + ":docker/jenkins/Jenkinsfile"],
                             capture_output=True, text=True, check=True).stdout
    if old is not None:
        b, calls, ws = drive(old)
        v = verdict(b, calls, ws)
        print("control events:", json.dumps(b.events))
        good = b.result == "FAILURE" and not v["stopped"] and not v["pulled"]
        ok &= good
        print("%s: control: the old Jenkinsfile skips the stop and the pull (%s)"
              % ("ok" if good else "FAIL", v))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Unknown as e:
        print("FAIL: jenkinsfile_driver: %s" % e)
        sys.exit(1)
