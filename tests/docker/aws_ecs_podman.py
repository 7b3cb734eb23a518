#!/usr/bin/python3
"""`aws` for jenkinsfile_driver.py: the ECS verbs the Jenkinsfile calls, acted
out on podman with the real images, so that the pipeline's shell code runs
against a real app and sidecar (issue 12 asks for podman standing in for ECS).

  aws ecs run-task --task-definition FAMILY --overrides JSON
                   --query 'tasks[0].taskArn' --output text [...]
        starts the task definition's containers as e2e.sh does: a shared
        volume on /coverage, host network, the definition's environment with
        the containerOverrides applied; the sidecar first (the app dependsOn
        it, condition START), each with its read-only root file system,
        user and capabilities (taskdef_env.podman_flags). Only the bucket
        (rewritten to radosgw's), the endpoint, the credentials (no task
        role here) and the app's port differ. Prints a task ARN.
  aws ecs wait tasks-running --tasks ARN      both containers running
  aws ecs stop-task --task ARN [...]          ECS order: `podman stop -t` the
        app with its stopTimeout, then the sidecar with its stopTimeout
  aws ecs wait tasks-stopped --tasks ARN      both containers exited
  aws ecs describe-tasks --tasks ARN
        --query 'tasks[0].containers[].[name,exitCode]' --output text
        NAME<TAB>EXIT per container from `podman inspect` (None while running)

Anything else exits 2 with a message: it never guesses an answer.
Every call is logged to $DRIVER_LOG (one JSON array a line); stops and
their order to $DRIVER_STATE/events. Environment (set by the driver):
DRIVER_LOG, DRIVER_STATE, DRIVER_TASKDEF, DRIVER_NAME (container name
prefix, unique per run), DRIVER_BUCKET_FROM/TO (s3:// prefixes),
DRIVER_PODMAN, DRIVER_APP_IMG, DRIVER_SIDECAR_IMG, DRIVER_HOME,
COVSHIP_ENDPOINT, AWS_* of the s3server fixture."""
import json
import os
import socket
import subprocess
import sys
import time

from taskdef_env import podman_flags

E = os.environ
STATE = E.get("DRIVER_STATE", "")


def die(msg):
    print("aws (podman stand-in for ECS): %s" % msg, file=sys.stderr)
    sys.exit(2)


def podman(*args, check=True, capture=False):
    env = dict(E, HOME=E["DRIVER_HOME"])  # podman's own config, not the workspace's
    r = subprocess.run(E["DRIVER_PODMAN"].split() + list(args), env=env, text=True,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL)
    if check and r.returncode != 0:
        die("podman %s exited %d" % (" ".join(args[:2]), r.returncode))
    return r.stdout if capture else r.returncode


def opt(args, name, default=None):
    if name in args and args.index(name) + 1 < len(args):
        return args[args.index(name) + 1]
    if default is None:
        die("%s is missing" % name)
    return default


def taskdef():
    with open(E["DRIVER_TASKDEF"]) as f:
        return json.load(f)


def containers(td):
    """[(ECS name, podman name, definition)] in definition order."""
    return [(c["name"], "%s-%s" % (E["DRIVER_NAME"], c["name"]), c)
            for c in td["containerDefinitions"]]


def event(text):
    with open(os.path.join(STATE, "events"), "a") as f:
        f.write("%.3f %s\n" % (time.time(), text))


def task_of(args, flag):
    arn = opt(args, flag)
    with open(os.path.join(STATE, "task-arn")) as f:
        if arn != f.read().strip():
            die("no such task %r" % arn)


def state(name):
    out = podman("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name, capture=True)
    status, code = out.split()
    return status, int(code)


def run_task(args):
    td = taskdef()
    if opt(args, "--task-definition") != td["family"]:
        die("unknown task definition %r" % opt(args, "--task-definition"))
    if opt(args, "--query") != "tasks[0].taskArn" or opt(args, "--output") != "text":
        die("run-task: only --query 'tasks[0].taskArn' --output text is known")
    overrides = json.loads(opt(args, "--overrides", "{}"))
    over = {o["name"]: {e["name"]: e["value"] for e in o.get("environment", [])}
            for o in overrides.get("containerOverrides", [])}
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    vol = E["DRIVER_NAME"] + "-coverage"
    with open(os.path.join(STATE, "created"), "a") as f:  # for the driver's cleanup
        f.write("volume %s\n" % vol)
        for _, pname, _ in containers(td):
            f.write("container %s\n" % pname)
    podman("volume", "create", vol)
    # dependsOn START: the containers nobody depends on first (the sidecar).
    order = sorted(containers(td), key=lambda c: bool(c[2].get("dependsOn")))
    for name, pname, c in order:
        env = {e["name"]: e["value"] for e in c.get("environment", [])}
        env.update(over.get(name, {}))
        dest = env.get("COVSHIP_DEST", "")
        if dest:
            if not dest.startswith(E["DRIVER_BUCKET_FROM"].rstrip("/")):
                die("COVSHIP_DEST %s is not in %s" % (dest, E["DRIVER_BUCKET_FROM"]))
            env["COVSHIP_DEST"] = E["DRIVER_BUCKET_TO"] + dest[len(E["DRIVER_BUCKET_FROM"]):]
            env["COVSHIP_ENDPOINT"] = E["COVSHIP_ENDPOINT"]
            for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
                env[k] = E[k]
        if c.get("portMappings"):
            env["PORT"] = str(port)
        envfile = os.path.join(STATE, name + ".env")
        with open(envfile, "w") as f:
            for k, v in env.items():
                if "\n" in v:
                    die("%s: %s has a line break" % (name, k))
                f.write("%s=%s\n" % (k, v))
        flags = podman_flags(c)  # read-only root, user, capabilities
        for m in c.get("mountPoints", []):
            flags += ["-v", "%s:%s" % (vol, m["containerPath"])]
        img = E["DRIVER_SIDECAR_IMG"] if name == "covship" else E["DRIVER_APP_IMG"]
        podman("run", "-d", "--name", pname, "--network", "host", "--env-file", envfile,
               *flags, img, *c.get("command", []))
        event("started %s" % name)
    with open(os.path.join(STATE, "app-url"), "w") as f:
        f.write("http://127.0.0.1:%d\n" % port)
    arn = "arn:aws:ecs:%s:123456789012:task/%s/%s" % (
        E.get("AWS_REGION", "eu-west-1"), opt(args, "--cluster", "default"), E["DRIVER_NAME"])
    with open(os.path.join(STATE, "task-arn"), "w") as f:
        f.write(arn + "\n")
    print(arn)


def wait(args):
    what = args[0] if args else ""
    if what not in ("tasks-running", "tasks-stopped"):
        die("ecs wait %s is not known" % what)
    task_of(args, "--tasks")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        states = [state(p)[0] for _, p, _ in containers(taskdef())]
        if what == "tasks-running" and all(s == "running" for s in states):
            return
        if what == "tasks-running" and any(s == "exited" for s in states):
            print("Waiter TasksRunning failed: a container exited", file=sys.stderr)
            sys.exit(255)
        if what == "tasks-stopped" and all(s in ("exited", "stopped") for s in states):
            return
        time.sleep(0.5)
    print("Waiter %s failed: Max attempts exceeded" % what, file=sys.stderr)
    sys.exit(255)


def stop_task(args):
    task_of(args, "--task")
    # ECS stops the dependants first (the app dependsOn the sidecar), each
    # with its stopTimeout (default 30), as e2e.sh does.
    order = sorted(containers(taskdef()), key=lambda c: not c[2].get("dependsOn"))
    for name, pname, c in order:
        event("stop %s -t %d" % (name, c.get("stopTimeout", 30)))
        podman("stop", "-t", str(c.get("stopTimeout", 30)), pname)
        event("stopped %s exit %d" % (name, state(pname)[1]))
    print(json.dumps({"task": {"taskArn": opt(args, "--task"), "desiredStatus": "STOPPED"}}))


def describe(args):
    task_of(args, "--tasks")
    if opt(args, "--query") != "tasks[0].containers[].[name,exitCode]" or \
            opt(args, "--output") != "text":
        die("describe-tasks: only --query 'tasks[0].containers[].[name,exitCode]' "
            "--output text is known")
    for name, pname, _ in containers(taskdef()):
        status, code = state(pname)
        print("%s\t%s" % (name, code if status in ("exited", "stopped") else "None"))


def main(args):
    with open(E["DRIVER_LOG"], "a") as f:
        f.write(json.dumps(["aws"] + args) + "\n")
    verbs = {"run-task": run_task, "stop-task": stop_task, "describe-tasks": describe,
             "wait": wait}
    if args[:1] != ["ecs"] or len(args) < 2 or args[1] not in verbs:
        die("%r is not known" % " ".join(args[:2]))
    verbs[args[1]](args[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
