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
stops the driver with an error: it never guesses.

Podman stands in for ECS, as the issue asks: `aws` on PATH is
aws_ecs_podman.py, whose ECS verbs start the task definition's app and
sidecar from the real images (images.sh, as e2e.sh builds them), stop them
in ECS order with their stopTimeouts and report their real exit codes.
`covship` on PATH is the real binary, pulling from radosgw (the s3server
fixture). The one substitution: the bucket `s3://B/` of the task
definition's COVSHIP_DEST is rewritten to `s3://TESTBUCKET/jfd-RUN/`, in the
task's environment and in the Jenkinsfile's environment entries alike. The
test step `./run-e2e-tests.sh` sends real requests to the app (drive.py:
/, /hello, /items, /health) and then exits 1. Everything else is the
Jenkinsfile's own shell code, run for real, in a workspace whose path holds
a space (with the app's sources, as a checkout would have them), with a
BUILD_TAG of a multibranch job.

It asserts that with the failing test step the build is FAILURE and still
the task is stopped (app first, then the sidecar; both exited 0 and
describe-tasks ran), `covship pull --build "$BUILD_TAG"` ran with `--map` as
one argument despite the space and wrote coverage-out/coverage.xml whose
paths resolve under the workspace with hits on the requested views
(check_e2e.check_xml), the HTML report exists, and both report steps ran.
Control: the same driver on the Jenkinsfile of an older commit
(--control-rev SRCDIR REV) must show the stop and the pull skipped: its
containers are still running when the pipeline ends (the driver then stops
and removes them itself; it only ever touches the containers and the volume
that its own run-task created).

usage: jenkinsfile_driver.py JENKINSFILE --src SRCDIR --covship COVSHIP
                             --s3env S3ENV [--control-rev SRCDIR GIT_REV]
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
        self.rewrite = lambda value: value  # the bucket substitution (drive())
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
                           stdout=self.log, stderr=subprocess.STDOUT, timeout=300)
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
                b.env[v["name"]] = b.rewrite(interpolate(v["value"], b.env))
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


HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_TAG = "jenkins-My App-feature%2Fx-42"  # a multibranch job's tag
WORKERS = 3  # the task definition's WEB_CONCURRENCY; drive.py waits for each

TEST_STEP = """#!/bin/sh
# the suite under test: real requests to the task's app, then a failure
/usr/bin/python3 "$DRIVER_DRIVE" "$(cat "$DRIVER_STATE/app-url")" "$DRIVER_WORKERS" ||
    echo "e2e: the app did not serve"
echo 'e2e: 3 tests failed'
exit 1
"""

COVSHIP_WRAPPER = """#!/bin/sh
/usr/bin/python3 -c 'import json,sys; print(json.dumps(["covship"]+sys.argv[1:]))' "$@" \\
    >> "$DRIVER_LOG"
exec "%s" "$@"
"""


def podman_setup(src):
    """(podman command, CONTAINERS_CONF, sidecar image, app image) from podman.sh."""
    out = subprocess.run(["sh", "-c", '. "$1"; printf "%s\\n" "$P" "$CONTAINERS_CONF" '
                          '"$SIDECAR_IMG" "$APP_IMG"', "sh", os.path.join(HERE, "podman.sh")],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    return out[:4]


def read_env(path):
    env = {}
    with open(path) as f:
        for ln in f:
            if "=" in ln:
                k, v = ln.rstrip("\n").split("=", 1)
                env[k] = v
    return env


def drive(jenkinsfile_text, cfg, label):
    """Run the pipeline with a failing test step against podman and radosgw;
    return (build, facts): what the checks need, taken before the workspace
    and the containers go."""
    body = parse(jenkinsfile_text)
    top = tempfile.mkdtemp(prefix="jenkinsfile-driver.")
    name = "covship-jfd-%d-%s-%s" % (os.getpid(), os.urandom(3).hex(), label)
    state = os.path.join(top, "state")
    p, conf, sidecar_img, app_img = cfg["podman"]
    facts = {"calls": [], "containers": {}, "events": [], "coverage problems": None,
             "html": False}
    try:
        ws = os.path.join(top, "work space")  # a workspace path with a space
        bindir = os.path.join(top, "bin")
        for d in (ws, bindir, state):
            os.makedirs(d)
        # The app's sources, as the job's checkout has them (--map /app=WS).
        shutil.copytree(os.path.join(cfg["src"], "docker/example-app/exampleapp"),
                        os.path.join(ws, "exampleapp"))
        with open(os.path.join(bindir, "aws"), "w") as f:
            f.write('#!/bin/sh\nexec /usr/bin/python3 "%s" "$@"\n'
                    % os.path.join(HERE, "aws_ecs_podman.py"))
        os.chmod(os.path.join(bindir, "aws"), 0o755)
        # The real covship; the wrapper only logs its arguments first.
        with open(os.path.join(bindir, "covship"), "w") as f:
            f.write(COVSHIP_WRAPPER % os.path.abspath(cfg["covship"]))
        os.chmod(os.path.join(bindir, "covship"), 0o755)
        with open(os.path.join(ws, "run-e2e-tests.sh"), "w") as f:
            f.write(TEST_STEP)
        os.chmod(os.path.join(ws, "run-e2e-tests.sh"), 0o755)
        taskdef = os.path.join(cfg["src"], "docker/ecs/task-definition.json")
        with open(taskdef) as f:
            dest = next(e["value"] for c in json.load(f)["containerDefinitions"]
                        for e in c.get("environment", []) if e["name"] == "COVSHIP_DEST")
        bucket_from = "s3://%s/" % dest[len("s3://"):].split("/")[0]
        bucket_to = "s3://%s/jfd-%s/" % (cfg["s3"]["COVSHIP_TEST_BUCKET"], name)
        log = os.path.join(top, "calls")
        env = {"PATH": bindir + ":/usr/bin:/bin", "HOME": top, "WORKSPACE": ws,
               "BUILD_TAG": BUILD_TAG, "GIT_COMMIT": "0" * 40, "LC_ALL": "C.UTF-8",
               # the agent's credentials and endpoint (radosgw)
               "AWS_ACCESS_KEY_ID": cfg["s3"]["AWS_ACCESS_KEY_ID"],
               "AWS_SECRET_ACCESS_KEY": cfg["s3"]["AWS_SECRET_ACCESS_KEY"],
               "AWS_REGION": cfg["s3"]["AWS_REGION"],
               "COVSHIP_ENDPOINT": cfg["s3"]["COVSHIP_TEST_S3_ENDPOINT"],
               # for aws_ecs_podman.py and the test step
               "DRIVER_LOG": log, "DRIVER_STATE": state, "DRIVER_TASKDEF": taskdef,
               "DRIVER_NAME": name, "DRIVER_BUCKET_FROM": bucket_from,
               "DRIVER_BUCKET_TO": bucket_to, "DRIVER_PODMAN": p, "CONTAINERS_CONF": conf,
               "DRIVER_SIDECAR_IMG": sidecar_img, "DRIVER_APP_IMG": app_img,
               "DRIVER_HOME": os.environ.get("HOME", "/root"),
               "DRIVER_DRIVE": os.path.join(HERE, "drive.py"),
               "DRIVER_WORKERS": str(WORKERS)}
        with open(os.path.join(top, "output"), "w") as out:
            b = Build(ws, env, out)
            b.rewrite = lambda v: bucket_to + v[len(bucket_from):] \
                if v.startswith(bucket_from) else v
            try:
                run_pipeline(body, b)
            finally:
                facts.update(inspect_task(state, p, conf))
        with open(os.path.join(top, "output")) as f:
            sys.stdout.write(f.read()[-4000:])
        if os.path.exists(log):
            with open(log) as f:
                facts["calls"] = [json.loads(ln) for ln in f]
        xml = os.path.join(ws, "coverage-out", "coverage.xml")
        if os.path.exists(xml):
            sys.path.insert(0, HERE)
            from check_e2e import check_xml  # botocore + coverage: only here
            problems = []
            check_xml(xml, ws, problems)
            facts["coverage problems"] = problems
        facts["html"] = os.path.exists(os.path.join(ws, "coverage-html", "index.html"))
        facts["ws"] = ws
        return b, facts
    finally:
        cleanup(state, p, conf)
        shutil.rmtree(top, ignore_errors=True)


def podman_cmd(p, conf, *args, capture=False):
    return subprocess.run(p.split() + list(args), env=dict(os.environ, CONTAINERS_CONF=conf),
                          text=True, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)


def created(state):
    """[(kind, name)] that this run's run-task created: all this driver touches."""
    path = os.path.join(state, "created")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [tuple(ln.split()) for ln in f if ln.strip()]


def inspect_task(state, p, conf):
    """The containers' state when the pipeline ended, and the stand-in's events."""
    out = {"containers": {}, "events": []}
    for kind, name in created(state):
        if kind == "container":
            r = podman_cmd(p, conf, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                           name, capture=True)
            out["containers"][name.rsplit("-", 1)[1]] = r.stdout.split() or ["missing"]
    if os.path.exists(os.path.join(state, "events")):
        with open(os.path.join(state, "events")) as f:
            out["events"] = [ln.split(" ", 1)[1].strip() for ln in f]
    return out


def cleanup(state, p, conf):
    """Stop (ECS order: the app, then the sidecar) and remove what run-task
    created, by name; the control leaves them running."""
    items = created(state)
    for kind, name in sorted(items, key=lambda i: (i[0] != "container",
                                                   not i[1].endswith("-app"))):
        if kind == "container":
            podman_cmd(p, conf, "stop", "-t", "30", name)
            podman_cmd(p, conf, "rm", "-f", name)
        else:
            podman_cmd(p, conf, "volume", "rm", "-f", name)


def verdict(b, facts):
    """What the pipeline did after the failing test step."""
    calls = facts["calls"]
    ws = facts.get("ws", "")
    stopped = any(c[:3] == ["aws", "ecs", "stop-task"] for c in calls) and \
        any(c[:4] == ["aws", "ecs", "wait", "tasks-stopped"] for c in calls)
    described = any(c[:3] == ["aws", "ecs", "describe-tasks"] for c in calls)
    stops = [e for e in facts["events"] if e.startswith("stop ")]
    in_order = [e.split()[1] for e in stops] == ["app", "covship"]
    cs = facts["containers"]
    exited_0 = bool(cs) and all(v == ["exited", "0"] for v in cs.values())
    running = bool(cs) and all(v[0] == "running" for v in cs.values())
    pulls = [c for c in calls if c[:2] == ["covship", "pull"]]
    pulled = bool(pulls)
    build_arg = pulled and "--build" in pulls[0] and \
        pulls[0][pulls[0].index("--build") + 1] == BUILD_TAG
    map_arg = pulled and "/app=" + ws in pulls[0]
    reports = {e[1] for e in b.events if e[0] == "report"}
    return {"result": b.result, "stopped": stopped, "stopped in ECS order": in_order,
            "exited 0": exited_0, "still running": running, "exit codes": described,
            "pulled": pulled, "pull --build": build_arg, "quoted --map": map_arg,
            "coverage.xml": facts["coverage problems"] == [],
            "html": facts["html"], "recordCoverage": "recordCoverage" in reports,
            "publishHTML": "publishHTML" in reports, "ws": ws, "pulls": pulls,
            "coverage problems": facts["coverage problems"]}


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

    def arg(flag):
        if flag not in args or args.index(flag) + 1 >= len(args):
            raise Unknown("%s is missing (usage in the docstring)" % flag)
        return args[args.index(flag) + 1]
    src = arg("--src")
    cfg = {"src": src, "covship": arg("--covship"), "s3": read_env(arg("--s3env")),
           "podman": podman_setup(src)}
    # The images from the real Dockerfiles, exactly as e2e.sh builds them.
    with tempfile.NamedTemporaryFile(prefix="jenkinsfile-driver-build.", suffix=".log") as lg:
        subprocess.run([os.path.join(HERE, "images.sh"), src, lg.name], check=True)
    with open(args[0]) as f:
        text = f.read()
    ok = True
    b, facts = drive(text, cfg, "new")
    v = verdict(b, facts)
    print("events:", json.dumps(b.events, indent=1))
    print("ECS stand-in events:", facts["events"], "containers at the end:", facts["containers"])
    print("coverage.xml problems:", v["coverage problems"])
    want = {"result": "FAILURE", "stopped": True, "stopped in ECS order": True,
            "exited 0": True, "exit codes": True, "pulled": True, "pull --build": True,
            "quoted --map": True, "coverage.xml": True,
            "html": True, "recordCoverage": True, "publishHTML": True}
    for k, w in want.items():
        good = v[k] == w
        ok &= good
        print("%s: %s is %r after a failing test step" % ("ok" if good else "FAIL", k, v[k]))
    if "--control-rev" in args:  # SRCDIR REV: git show REV:docker/jenkins/Jenkinsfile
        i = args.index("--control-rev")
        old = subprocess.run(["git", "-C", args[i + 1], "show",
                              args[i + 2] + ":docker/jenkins/Jenkinsfile"],
                             capture_output=True, text=True, check=True).stdout
        b, facts = drive(old, cfg, "control")
        v = verdict(b, facts)
        print("control events:", json.dumps(b.events))
        print("control: containers at the end:", facts["containers"])
        good = b.result == "FAILURE" and not v["stopped"] and not v["pulled"] and \
            v["still running"] and facts["coverage problems"] is None
        ok &= good
        print("%s: control: the old Jenkinsfile skips the stop and the pull, its task "
              "still runs (%s)" % ("ok" if good else "FAIL",
                                   {k: v[k] for k in ("result", "stopped", "still running",
                                                      "pulled", "coverage.xml")}))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Unknown as e:
        print("FAIL: jenkinsfile_driver: %s" % e)
        sys.exit(1)
