#!/usr/bin/python3
"""Print what the e2e test takes from the ECS task definition, so that the
containers run with its settings as written.
    taskdef_env.py TASKDEF NAME env       NAME=VALUE lines (podman --env-file)
    taskdef_env.py TASKDEF NAME stop      its stopTimeout (ECS default 30)
    taskdef_env.py TASKDEF NAME get VAR   one variable's value
    taskdef_env.py TASKDEF NAME flags     podman run flags, one a line: the
        container's hardening as ECS applies it (podman_flags)"""
import json
import sys


def podman_flags(c):
    """readonlyRootFilesystem, user and linuxParameters.capabilities as the
    podman run flags that do the same (docs/operations.md, "Hardened task")."""
    flags = ["--read-only"] if c.get("readonlyRootFilesystem") else []
    if c.get("user"):
        flags += ["--user", str(c["user"])]
    caps = (c.get("linuxParameters") or {}).get("capabilities") or {}
    for cap in caps.get("drop", []):
        flags += ["--cap-drop", cap]
    for cap in caps.get("add", []):
        flags += ["--cap-add", cap]
    return flags


def main(path, name, what, *rest):
    with open(path) as f:
        td = json.load(f)
    c = next((c for c in td["containerDefinitions"] if c["name"] == name), None)
    if c is None:
        raise SystemExit(f"{path}: no container named {name}")
    env = {e["name"]: e["value"] for e in c.get("environment", [])}
    if what == "env":
        for k, v in env.items():
            if "\n" in v:
                raise SystemExit(f"{name}: {k} has a line break")
            print(f"{k}={v}")
    elif what == "stop":
        print(c.get("stopTimeout", 30))
    elif what == "flags":
        for f in podman_flags(c):
            print(f)
    elif what == "get":
        print(env.get(rest[0], ""))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(*sys.argv[1:])
