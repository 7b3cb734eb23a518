#!/usr/bin/python3
"""Check docker/compose.yaml: it parses, the app and the sidecar share the
coverage volume at COVSHIP_DIR, the app depends_on the sidecar (compose then
stops the app first), and the timeouts nest as on ECS:
  graceful timeout < shim grace < app stop_grace_period < sidecar drain
  < sidecar stop_grace_period;
and the sidecar is hardened as in the task definition (docs/operations.md,
"Hardened task"): a non-root user, read_only, cap_drop ALL, no cap_add.
Deliberately broken copies must fail (--self-test is implied).
    check_compose.py COMPOSE.yaml"""
import copy
import re
import sys

import yaml


def seconds(v):
    m = re.fullmatch(r"(\d+)s", str(v)) or re.fullmatch(r"(\d+)", str(v))
    if not m:
        raise ValueError(f"stop_grace_period {v!r}: use seconds, e.g. 30s")
    return int(m.group(1))


def problems(doc):
    p = []
    svc = doc.get("services", {})
    app = next((s for s in svc.values() if "COVSHIP_GRACE" in s.get("environment", {})), None)
    sc = next((s for s in svc.values() if s.get("command", [None])[0] == "watch"), None)
    if not app or not sc:
        return ["need an app service (COVSHIP_GRACE) and a sidecar service (command: watch)"]
    app_name = next(k for k, v in svc.items() if v is app)
    sc_name = next(k for k, v in svc.items() if v is sc)
    if sc_name not in app.get("depends_on", {}):
        p.append(f"{app_name} must depends_on {sc_name}, or compose stops both at once")
    for s, name in ((app, app_name), (sc, sc_name)):
        d = s.get("environment", {}).get("COVSHIP_DIR")
        if f"coverage:{d}" not in s.get("volumes", []):
            p.append(f"{name}: volume 'coverage' must be mounted at COVSHIP_DIR ({d})")
    uid = str(sc.get("user", "")).split(":", 1)[0]
    if uid in ("", "0", "root"):
        p.append(f"{sc_name}: set user to a non-root uid (10001:10001, the image's covship user)")
    if sc.get("read_only") is not True:
        p.append(f"{sc_name}: set read_only: true (the spool is on the coverage volume)")
    if "ALL" not in sc.get("cap_drop", []) or sc.get("cap_add"):
        p.append(f"{sc_name}: cap_drop: [ALL] and no cap_add (it reads through the shared group)")
    env = app["environment"]
    graceful = int(env.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
    grace = int(env.get("COVSHIP_GRACE", 25))
    app_stop = seconds(app.get("stop_grace_period", "10s"))
    drain = int(sc.get("environment", {}).get("COVSHIP_DRAIN_TIMEOUT", 60))
    sc_stop = seconds(sc.get("stop_grace_period", "10s"))
    if not graceful < grace:
        p.append(f"graceful timeout {graceful} must be below the shim grace {grace}")
    if not grace < app_stop:
        p.append(f"shim grace {grace} must be below the app's stop_grace_period {app_stop}")
    if not app_stop < drain:
        p.append(f"sidecar drain {drain} must exceed the app's stop_grace_period {app_stop}")
    if not drain < sc_stop:
        p.append(f"sidecar stop_grace_period {sc_stop} must exceed its drain {drain}")
    return p


def main(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    found = problems(doc)
    for line in found:
        print(f"{path}: {line}", file=sys.stderr)
    if found:
        return 1
    print(f"{path}: ok")
    broken = []
    d = copy.deepcopy(doc)
    d["services"]["app"]["stop_grace_period"] = "10s"  # Docker's default
    broken.append(("app stop_grace_period 10s", d))
    d = copy.deepcopy(doc)
    d["services"]["app"].pop("depends_on")
    broken.append(("no depends_on", d))
    d = copy.deepcopy(doc)
    d["services"]["app"]["environment"].pop("GUNICORN_GRACEFUL_TIMEOUT")
    broken.append(("gunicorn default graceful timeout", d))
    d = copy.deepcopy(doc)
    d["services"]["sidecar"]["stop_grace_period"] = "45s"
    broken.append(("sidecar killed while draining", d))
    for key, what in (("user", "root sidecar"), ("read_only", "writable root file system"),
                      ("cap_drop", "capabilities kept")):
        d = copy.deepcopy(doc)
        d["services"]["sidecar"].pop(key)
        broken.append((what, d))
    d = copy.deepcopy(doc)
    d["services"]["sidecar"]["cap_add"] = ["DAC_OVERRIDE"]
    broken.append(("a capability added back", d))
    missed = 0
    for what, d in broken:
        p = problems(d)
        print(f"  broken copy: {what}: {'caught: ' + p[0] if p else 'MISSED'}")
        missed += not p
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
