#!/usr/bin/python3
"""Bundle metadata and key template: ECS task metadata (served on loopback
by this test as $ECS_CONTAINER_METADATA_URI_V4), BUILD_TAG, GIT_COMMIT,
COVSHIP_LABEL_*, {task_id}/{build} in the key, zstd compression.

Control: with the metadata endpoint down, push still delivers, records
"ecs": null and warns (the same checks on "ecs" then fail)."""
import http.server
import json
import os
import threading

from sidecarlib import Checker, Scratch, bundles, clean_env, parse_args, read_bundle, run

TASK = {"TaskARN": "arn:aws:ecs:eu-west-1:123456789012:task/prod/0f1e2d3c4b5a",
        "Cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"}
SELF = {"Name": "covship-sidecar", "DockerId": "abc"}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(TASK if self.path.endswith("/task") else SELF).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def push(a, s, name, env, extra):
    cov, dest = s.sub(name + "-cov"), s.sub(name + "-dest")
    with open(os.path.join(cov, ".coverage.h.1.2"), "wb") as fh:
        fh.write(b"data" * 100)
    r = run(a.covship, ["push", "--dir", cov, "--dest", "file://" + dest, "--spool",
                        os.path.join(s.path, name + "-spool")] + extra, env=env, timeout=30)
    return r, dest


a = parse_args()
c = Checker("sidecar metadata and key template")
with Scratch(a.keep) as s:
    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    s.cleanups.append(srv.shutdown)
    uri = f"http://127.0.0.1:{srv.server_port}/v4/abc"
    env = clean_env(ECS_CONTAINER_METADATA_URI_V4=uri, BUILD_TAG="jenkins-app-42",
                    GIT_COMMIT="deadbeef", COVSHIP_LABEL_TEAM="web")
    r, dest = push(a, s, "ecs", env, ["--key-template", "{build}/{task_id}/{bundle}",
                                      "--compression", "zstd"])
    c.check(r.returncode == 0, "push with ECS metadata: exit 0", r.stderr.decode(errors="replace"))
    bs = bundles(dest)
    rel = [os.path.relpath(b, dest) for b in bs]
    c.check(len(rel) == 1 and rel[0].startswith("jenkins-app-42/0f1e2d3c4b5a/") and
            rel[0].endswith(".tar.zst"), "key = {build}/{task_id}/{bundle}, zstd bundle", str(rel))
    entries, man, probs = read_bundle(bs[0]) if bs else ({}, {}, ["no bundle"])
    md = man.get("metadata", {})
    c.check(not probs and len(entries) == 1, "zstd bundle reads back, manifest matches", str(probs))
    c.check(md.get("ecs") == {"task_arn": TASK["TaskARN"], "cluster": TASK["Cluster"],
                              "container_name": "covship-sidecar"},
            "manifest metadata.ecs from the task metadata endpoint", str(md.get("ecs")))
    c.check(md.get("build_tag") == "jenkins-app-42" and md.get("git_commit") == "deadbeef" and
            md.get("labels") == {"TEAM": "web"} and md.get("hostname"),
            "build_tag, git_commit, labels and hostname recorded", str(md))
    c.check(man.get("format") == "python" and man.get("seq") == 1 and man.get("created"),
            "format, seq and created recorded")
    # control: endpoint down
    srv.shutdown()
    srv.server_close()
    r, dest = push(a, s, "down", env, [])
    err = r.stderr.decode(errors="replace")
    bs = bundles(dest)
    man = read_bundle(bs[0])[1] if bs else {}
    c.check(r.returncode == 0 and bs and man["metadata"]["ecs"] is None and "ECS metadata" in err,
            "control: endpoint down -> still delivered, ecs null, a warning", err[-200:])
c.finish()
