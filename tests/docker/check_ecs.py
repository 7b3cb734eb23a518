#!/usr/bin/python3
"""Check docker/ecs/task-definition.json.

1. botocore's own parameter validation for ecs:RegisterTaskDefinition (the
   AWS API model shipped in Debian's python3-botocore), plus the enum values,
   which botocore's validator does not check;
2. covship's consistency rules: timeouts that nest, the stop order, the
   shared volume, the health check, the logs, and the hardened sidecar
   (docs/operations.md, "Hardened task"): a read-only root file system (its
   spool is on the coverage volume), a non-root `user`, every capability
   dropped (linuxParameters.capabilities.drop ["ALL"], none added back),
   not privileged, no tmpfs on Fargate (which refuses it).

    check_ecs.py TASKDEF.json            check one file (exit 1 on problems)
    check_ecs.py --self-test TASKDEF.json
        the file must pass, and every deliberately broken copy of it must fail
        with the expected problem (so the checks can catch what they claim).
    --shim PATH --covship PATH
        read the defaults of --grace and --drain-timeout from the programs'
        --help instead of trusting the copies below.
"""
import copy
import re
import json
import shlex
import sys

import botocore.session
import botocore.validate

# Defaults of the programs when the task definition does not set a value.
GUNICORN_GRACEFUL_DEFAULT = 30  # gunicorn 20.1 --graceful-timeout
SHIM_GRACE_DEFAULT = 25         # covship-shim --grace
DRAIN_DEFAULT = 60              # covship watch --drain-timeout
ECS_STOP_DEFAULT = 30           # ECS stopTimeout when unset
FARGATE_STOP_MAX = 120


def help_default(argv, option):
    """The '(default N)' / 'default N' printed next to option in --help."""
    import subprocess
    out = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=10).stdout
    m = re.search(re.escape(option) + r"\b.*?default (\d+)", out, re.S)
    if not m:
        raise SystemExit(f"cannot find the default of {option} in {' '.join(argv)} --help")
    return int(m.group(1))


def op_model():
    session = botocore.session.get_session()
    return session.get_service_model("ecs").operation_model("RegisterTaskDefinition")


def enum_problems(shape, value, where):
    """botocore's validator ignores enums; the API does not."""
    out = []
    if shape.type_name == "structure" and isinstance(value, dict):
        for k, v in value.items():
            if k in shape.members:
                out += enum_problems(shape.members[k], v, f"{where}.{k}")
    elif shape.type_name == "list" and isinstance(value, list):
        for i, v in enumerate(value):
            out += enum_problems(shape.member, v, f"{where}[{i}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for k, v in value.items():
            out += enum_problems(shape.value, v, f"{where}[{k}]")
    elif shape.type_name == "string" and getattr(shape, "enum", None):
        if value not in shape.enum:
            out.append(f"{where}: '{value}' is not one of {shape.enum}")
    return out


def api_problems(td):
    shape = op_model().input_shape
    try:
        botocore.validate.validate_parameters(td, shape)
    except botocore.exceptions.ParamValidationError as e:
        return ["RegisterTaskDefinition: " + str(e).replace("\n", " ")]
    return enum_problems(shape, td, "taskDefinition")


def env_of(c):
    return {e["name"]: e["value"] for e in c.get("environment", [])}


def argv_of(c):
    return list(c.get("entryPoint", [])) + list(c.get("command", []))


def opt_value(argv, name):
    """Value of --name V or --name=V in an argv (last one wins)."""
    val = None
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            val = argv[i + 1]
        elif a.startswith(name + "="):
            val = a.split("=", 1)[1]
    return val


def number(v, what, problems):
    try:
        return float(v)
    except (TypeError, ValueError):
        problems.append(f"{what}: '{v}' is not a number")
        return None


def is_sidecar(c):
    argv = argv_of(c)
    return "watch" in argv and ("covship" in c.get("image", "") or "covship" in argv)


def graceful_timeout(c):
    env = env_of(c)
    if "GUNICORN_GRACEFUL_TIMEOUT" in env:  # the example app's gunicorn.conf.py
        return env["GUNICORN_GRACEFUL_TIMEOUT"], "GUNICORN_GRACEFUL_TIMEOUT"
    v = opt_value(shlex.split(env.get("GUNICORN_CMD_ARGS", "")), "--graceful-timeout")
    if v is not None:
        return v, "GUNICORN_CMD_ARGS --graceful-timeout"
    v = opt_value(argv_of(c), "--graceful-timeout")
    if v is not None:
        return v, "gunicorn --graceful-timeout"
    return GUNICORN_GRACEFUL_DEFAULT, "gunicorn default graceful timeout"


def shim_grace(c):
    # The shim's own options come before "--" in the argv.
    argv = argv_of(c)
    if "--" in argv:
        argv = argv[: argv.index("--")]
    v = opt_value(argv, "--grace")
    if v is not None:
        return v, "covship-shim --grace"
    env = env_of(c)
    if "COVSHIP_GRACE" in env:
        return env["COVSHIP_GRACE"], "COVSHIP_GRACE"
    return SHIM_GRACE_DEFAULT, "covship-shim default grace"


def drain_timeout(c):
    v = opt_value(argv_of(c), "--drain-timeout")
    if v is not None:
        return v, "covship watch --drain-timeout"
    env = env_of(c)
    if "COVSHIP_DRAIN_TIMEOUT" in env:
        return env["COVSHIP_DRAIN_TIMEOUT"], "COVSHIP_DRAIN_TIMEOUT"
    return DRAIN_DEFAULT, "covship watch default drain timeout"


def coverage_dir(c, problems):
    d = opt_value(argv_of(c), "--coverage-dir") or opt_value(argv_of(c), "--dir")
    d = d or env_of(c).get("COVSHIP_DIR")
    if not d:
        problems.append(f"container {c['name']}: no COVSHIP_DIR (nor --dir/--coverage-dir)")
    return d


def mount_of(c, path):
    for m in c.get("mountPoints", []):
        if m.get("containerPath") == path:
            return m
    return None


def hardening_problems(sc, fargate):
    """The sidecar reads the app's files through a shared group, so it needs
    neither root nor any capability (docs/operations.md, "Hardened task")."""
    p = []
    user = str(sc.get("user", ""))
    uid = user.split(":", 1)[0]
    if not uid:
        p.append("sidecar: set user (e.g. \"10001:10001\", the image's covship user): "
                 "without it the image decides, and a root sidecar reads the app's "
                 "files through capabilities instead of the shared group")
    elif uid in ("0", "root"):
        p.append(f"sidecar: user {user!r} is root; use the image's non-root user "
                 f"(10001:10001) and the shared group")
    if sc.get("privileged"):
        p.append("sidecar: privileged must not be set")
    lp = sc.get("linuxParameters") or {}
    caps = lp.get("capabilities") or {}
    if "ALL" not in caps.get("drop", []):
        p.append("sidecar: linuxParameters.capabilities.drop must be [\"ALL\"]: the "
                 "sidecar needs no capability")
    if caps.get("add"):
        p.append(f"sidecar: linuxParameters.capabilities.add {caps['add']}: the sidecar "
                 f"needs no capability (CAP_DAC_* would bypass the shared group)")
    if fargate and "tmpfs" in lp:
        p.append("sidecar: linuxParameters.tmpfs is not supported on Fargate; the spool "
                 "is on the coverage volume and needs no tmpfs")
    return p


def rule_problems(td):
    p = []
    cs = td.get("containerDefinitions", [])
    sidecars = [c for c in cs if is_sidecar(c)]
    if len(sidecars) != 1:
        return [f"expected exactly one `covship watch` container, found {len(sidecars)}"]
    sc = sidecars[0]
    apps = [c for c in cs if c is not sc and
            ("COVSHIP_GRACE" in env_of(c) or "covship-shim" in argv_of(c) or
             "COVSHIP_DIR" in env_of(c))]
    if not apps:
        return ["no app container (one with COVSHIP_DIR/COVSHIP_GRACE or covship-shim)"]
    fargate = "FARGATE" in td.get("requiresCompatibilities", [])
    if not td.get("taskRoleArn"):
        p.append("no taskRoleArn: the sidecar gets its S3 credentials from the task role")

    sc_dir = coverage_dir(sc, p)
    sc_mount = mount_of(sc, sc_dir) if sc_dir else None
    if sc_dir and not sc_mount:
        p.append(f"sidecar: COVSHIP_DIR {sc_dir} is not a mountPoint's containerPath")
    dest = env_of(sc).get("COVSHIP_DEST") or opt_value(argv_of(sc), "--dest")
    if not dest or not dest.startswith("s3://"):
        p.append(f"sidecar: COVSHIP_DEST must be an s3:// URL, got {dest!r}")
    hc = sc.get("healthCheck", {}).get("command", [])
    if "covship" not in " ".join(hc) or "health" not in hc:
        p.append("sidecar: healthCheck must run `covship health`")
    # The spool defaults to COVSHIP_DIR/.covship-spool, on the task volume:
    # the sidecar needs no writable root file system (Security Hub ECS.5),
    # and an explicit COVSHIP_SPOOL must then be on a mounted volume too.
    if sc.get("readonlyRootFilesystem") is not True:
        p.append("sidecar: set readonlyRootFilesystem true (the spool is on the coverage "
                 "volume; AWS Security Hub ECS.5)")
    p += hardening_problems(sc, fargate)
    spool = env_of(sc).get("COVSHIP_SPOOL") or opt_value(argv_of(sc), "--spool")
    if spool and not any(spool == m.get("containerPath") or
                         spool.startswith(m.get("containerPath", "").rstrip("/") + "/")
                         for m in sc.get("mountPoints", []) if not m.get("readOnly")):
        p.append(f"sidecar: COVSHIP_SPOOL {spool} is not on a writable mountPoint; with a "
                 f"read-only root file system the spool could not be created")

    sc_stop = number(sc.get("stopTimeout", ECS_STOP_DEFAULT), "sidecar stopTimeout", p)
    drain, drain_src = drain_timeout(sc)
    drain = number(drain, drain_src, p)

    for a in apps:
        n = a["name"]
        deps = {(d["containerName"], d["condition"]) for d in a.get("dependsOn", [])}
        if (sc["name"], "START") not in deps and (sc["name"], "HEALTHY") not in deps:
            p.append(f"{n}: must dependsOn {sc['name']} (condition START) so that ECS "
                     f"stops {n} first and the sidecar last")
        a_dir = coverage_dir(a, p)
        a_mount = mount_of(a, a_dir) if a_dir else None
        if a_dir and not a_mount:
            p.append(f"{n}: COVSHIP_DIR {a_dir} is not a mountPoint's containerPath")
        if a_mount and sc_mount and a_mount["sourceVolume"] != sc_mount["sourceVolume"]:
            p.append(f"{n}: coverage volume {a_mount['sourceVolume']} is not the sidecar's "
                     f"{sc_mount['sourceVolume']}")
        if a_mount and a_mount.get("readOnly"):
            p.append(f"{n}: the coverage volume must be writable")
        stop = number(a.get("stopTimeout", ECS_STOP_DEFAULT), f"{n} stopTimeout", p)
        grace, grace_src = shim_grace(a)
        grace = number(grace, grace_src, p)
        graceful, graceful_src = graceful_timeout(a)
        graceful = number(graceful, graceful_src, p)
        if None in (stop, grace, graceful, drain, sc_stop):
            continue
        if not graceful < grace:
            p.append(f"{n}: {graceful_src} ({graceful:g}) must be below {grace_src} "
                     f"({grace:g}), or the shim SIGKILLs workers still flushing")
        if not grace < stop:
            p.append(f"{n}: {grace_src} ({grace:g}) must be below stopTimeout ({stop:g}), "
                     f"or ECS SIGKILLs the shim before it writes done.json")
        if not drain > stop:
            p.append(f"sidecar: {drain_src} ({drain:g}) must exceed {n}'s stopTimeout "
                     f"({stop:g}): when ECS stops all containers at once the sidecar "
                     f"must outlive the app's flush")
        if fargate and stop > FARGATE_STOP_MAX:
            p.append(f"{n}: stopTimeout {stop:g} exceeds Fargate's maximum {FARGATE_STOP_MAX}")
        if a.get("logConfiguration", {}).get("logDriver") != "awslogs":
            p.append(f"{n}: logConfiguration should use awslogs")
    if None not in (drain, sc_stop) and not sc_stop > drain:
        p.append(f"sidecar: stopTimeout ({sc_stop:g}) must exceed {drain_src} ({drain:g}) "
                 f"so that the last upload is not SIGKILLed")
    if fargate and sc_stop is not None and sc_stop > FARGATE_STOP_MAX:
        p.append(f"sidecar: stopTimeout {sc_stop:g} exceeds Fargate's maximum {FARGATE_STOP_MAX}")
    if sc.get("logConfiguration", {}).get("logDriver") != "awslogs":
        p.append("sidecar: logConfiguration should use awslogs")
    return p


def problems(td):
    return api_problems(td) + rule_problems(td)


def container(td, name):
    return next(c for c in td["containerDefinitions"] if c["name"] == name)


def set_env(c, name, value):
    c["environment"] = [e for e in c.get("environment", []) if e["name"] != name]
    if value is not None:
        c["environment"].append({"name": name, "value": value})


# Each broken copy: (what it breaks, mutation, a word the problem must contain).
def mutations(td):
    sc = next(c for c in td["containerDefinitions"] if is_sidecar(c))["name"]
    app = next(c for c in td["containerDefinitions"] if not is_sidecar(c))["name"]

    def m(fn):
        def apply(t):
            fn(t)
            return t
        return apply

    return [
        ("unknown field (API model)",
         m(lambda t: container(t, app).update(stopTimeoutSeconds=30)), "Unknown parameter"),
        ("wrong type (API model)",
         m(lambda t: container(t, app).update(stopTimeout="30")), "Invalid type"),
        ("bad enum (API model)",
         m(lambda t: container(t, app)["dependsOn"][0].update(condition="STARTED")), "not one of"),
        ("no dependsOn", m(lambda t: container(t, app).pop("dependsOn")), "dependsOn"),
        ("graceful timeout >= grace",
         m(lambda t: set_env(container(t, app), "GUNICORN_GRACEFUL_TIMEOUT", "25")), "graceful"),
        ("gunicorn default graceful timeout",
         m(lambda t: set_env(container(t, app), "GUNICORN_GRACEFUL_TIMEOUT", None)), "graceful"),
        ("grace >= app stopTimeout",
         m(lambda t: container(t, app).update(stopTimeout=25)), "stopTimeout"),
        ("drain <= app stopTimeout",
         m(lambda t: set_env(container(t, sc), "COVSHIP_DRAIN_TIMEOUT", "30")), "outlive"),
        ("sidecar stopTimeout <= drain",
         m(lambda t: container(t, sc).update(stopTimeout=45)), "SIGKILLed"),
        ("Fargate stopTimeout > 120",
         m(lambda t: container(t, sc).update(stopTimeout=150)), "Fargate"),
        ("different volumes",
         m(lambda t: container(t, app)["mountPoints"][0].update(sourceVolume="other")),
         "volume"),
        ("no health check", m(lambda t: container(t, sc).pop("healthCheck")), "health"),
        ("writable root file system",
         m(lambda t: container(t, sc).pop("readonlyRootFilesystem")), "readonlyRootFilesystem"),
        ("wrong type in the hardening fields (API model)",
         m(lambda t: container(t, sc).update(linuxParameters={"capabilities": {"drop": "ALL"}})),
         "Invalid type"),
        ("no sidecar user", m(lambda t: container(t, sc).pop("user")), "set user"),
        ("root sidecar user",
         m(lambda t: container(t, sc).update(user="0:10001")), "is root"),
        ("capabilities kept",
         m(lambda t: container(t, sc).pop("linuxParameters")), "capabilities.drop"),
        ("a capability added back",
         m(lambda t: container(t, sc)["linuxParameters"]["capabilities"].update(
             add=["DAC_READ_SEARCH"])), "capabilities.add"),
        ("privileged sidecar",
         m(lambda t: container(t, sc).update(privileged=True)), "privileged"),
        ("tmpfs on Fargate",
         m(lambda t: container(t, sc)["linuxParameters"].update(
             tmpfs=[{"containerPath": "/tmp", "size": 64}])), "tmpfs"),
        ("spool on the root file system",
         m(lambda t: set_env(container(t, sc), "COVSHIP_SPOOL", "/var/spool/covship")),
         "COVSHIP_SPOOL"),
        ("file destination", m(lambda t: set_env(container(t, sc), "COVSHIP_DEST",
                                                 "file:///tmp/x")), "s3://"),
    ]


def main(argv):
    global SHIM_GRACE_DEFAULT, DRAIN_DEFAULT
    self_test = "--self-test" in argv
    argv = [a for a in argv if a != "--self-test"]
    for opt in ("--shim", "--covship"):
        if opt in argv:
            i = argv.index(opt)
            prog = argv[i + 1]
            del argv[i:i + 2]
            if opt == "--shim":
                SHIM_GRACE_DEFAULT = help_default([prog], "--grace")
            else:
                DRAIN_DEFAULT = help_default([prog, "watch"], "--drain-timeout")
            print(f"defaults from {prog}: grace {SHIM_GRACE_DEFAULT} s, "
                  f"drain {DRAIN_DEFAULT} s")
    paths = argv
    if len(paths) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(paths[0]) as f:
        td = json.load(f)
    found = problems(td)
    for line in found:
        print(f"{paths[0]}: {line}", file=sys.stderr)
    if found:
        return 1
    print(f"{paths[0]}: valid RegisterTaskDefinition input; timeouts nest "
          f"(see docs/operations.md)")
    if not self_test:
        return 0
    failed = 0
    for what, mutate, word in mutations(td):
        broken = problems(mutate(copy.deepcopy(td)))
        hit = [x for x in broken if word.lower() in x.lower()]
        status = "caught" if hit else "MISSED"
        print(f"  broken copy: {what}: {status}: {hit[0] if hit else broken}")
        failed += not hit
    if failed:
        print(f"{failed} broken copies passed the check", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
