#!/usr/bin/python3
"""Checks of one container end-to-end run (tests/docker/e2e.sh).

From S3 (botocore, independent of covship): the bundles under --prefix, each
a tar with covship-manifest.json last whose sizes and SHA-256s match the
entries; the shim's marker (status complete) in the manifest; one coverage
file per gunicorn worker (+1 for the master in process mode), each a
readable coverage.py data file.
From `covship pull --combine --map /app=WS` (as Jenkins runs it): exit 0 and
a Cobertura XML whose file paths resolve under WS, with hits on every line
of the requested views and none on the views that were never requested.

Exit 0 when everything holds, 1 otherwise (problems on stderr)."""
import argparse
import ast
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET

import botocore.session
import coverage

REQUESTED = ("index", "item", "hello", "health")
NOT_REQUESTED = ("report", "admin_only")


def s3_client():
    s = botocore.session.get_session()
    return s.create_client("s3", endpoint_url=os.environ["COVSHIP_TEST_S3_ENDPOINT"],
                           region_name=os.environ.get("AWS_REGION", "us-east-1"))


def list_keys(c, bucket, prefix):
    keys = []
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def open_bundle(key, body):
    if key.endswith(".tar.zst"):
        body = subprocess.run(["zstd", "-dc"], input=body, capture_output=True,
                              check=True).stdout
        return tarfile.open(fileobj=io.BytesIO(body), mode="r:")
    return tarfile.open(fileobj=io.BytesIO(body), mode="r:gz")


def check_bundle(key, body, problems):
    """Returns (manifest, {entry path: bytes})."""
    tf = open_bundle(key, body)
    members = tf.getmembers()
    if not members or members[-1].name != "covship-manifest.json":
        problems.append(f"{key}: covship-manifest.json is not the last entry")
        return None, {}
    man = json.load(tf.extractfile(members[-1]))
    files = {}
    for m in members[:-1]:
        if not m.isfile():
            problems.append(f"{key}: entry {m.name} is not a regular file")
            continue
        if m.name.startswith("/") or ".." in m.name.split("/"):
            problems.append(f"{key}: unsafe entry name {m.name}")
        files[m.name] = tf.extractfile(m).read()
    listed = {f.get("path"): f for f in man.get("files", [])}
    if set(listed) != set(files):
        problems.append(f"{key}: manifest lists {sorted(listed)}, archive has {sorted(files)}")
    for path, data in files.items():
        f = listed.get(path)
        if f and (f["size"] != len(data) or f["sha256"] != hashlib.sha256(data).hexdigest()):
            problems.append(f"{key}: {path}: size/SHA-256 differ from the manifest")
    return man, files


def pid_of(path):
    # coverage.py parallel names: .coverage.<hostname>.<pid>.<random>
    m = re.search(r"\.coverage\.(.+)\.(\d+)\.(\d+)$", path)
    return int(m.group(2)) if m else None


def count_problems(pids, expected):
    if len(pids) < expected:
        return [f"{len(pids)} coverage files from distinct processes, expected {expected}"]
    return []


def function_lines(path):
    """{function name: set of line numbers of its body statements}."""
    tree = ast.parse(open(path).read())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            lines = set()
            for st in ast.walk(node):
                if isinstance(st, ast.stmt) and st is not node:
                    lines.add(st.lineno)
            out[node.name] = lines
    return out


def check_xml(xml, ws, problems):
    root = ET.parse(xml).getroot()
    sources = [s.text for s in root.iter("source") if s.text]
    ws_real = os.path.realpath(ws)
    views = None
    for cls in root.iter("class"):
        fn = cls.get("filename")
        cands = [fn] if os.path.isabs(fn) else [os.path.join(s, fn) for s in sources]
        real = [os.path.realpath(c) for c in cands if os.path.exists(c)]
        if not real or not any(r.startswith(ws_real + os.sep) for r in real):
            problems.append(f"coverage.xml: {fn} does not resolve under the workspace {ws}")
            continue
        if fn.endswith("exampleapp/views.py"):
            views = (real[0], {int(l.get("number")): int(l.get("hits"))
                               for l in cls.iter("line")})
    if views is None:
        problems.append("coverage.xml: no class for exampleapp/views.py")
        return
    path, hits = views
    funcs = function_lines(path)
    for name in REQUESTED:
        cold = sorted(n for n in funcs[name] if hits.get(n, 0) == 0)
        if cold:
            problems.append(f"coverage.xml: requested view {name}: lines {cold} not hit")
    for name in NOT_REQUESTED:
        warm = sorted(n for n in funcs[name] if hits.get(n, 0) > 0)
        missing = sorted(n for n in funcs[name] if n not in hits)
        if warm:
            problems.append(f"coverage.xml: view {name} was never requested but lines {warm} hit")
        if missing:
            problems.append(f"coverage.xml: view {name}: lines {missing} missing (not measured)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--covship", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--workers", type=int, required=True)
    ap.add_argument("--mode", choices=("process", "wsgi", "wsgi-preload"), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--build-tag", help="every manifest must record this BUILD_TAG")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    problems = []
    say = (lambda *x: None) if a.quiet else (lambda *x: print("check:", *x, file=sys.stderr))

    c = s3_client()
    keys = list_keys(c, a.bucket, a.prefix)
    bundles = [k for k in keys if k.endswith((".tar.gz", ".tar.zst"))]
    say(f"{len(bundles)} bundles under s3://{a.bucket}/{a.prefix}")
    if not bundles:
        problems.append(f"no bundle under s3://{a.bucket}/{a.prefix}")
    pids, data_files, run_ids, markers = set(), 0, set(), []
    with tempfile.TemporaryDirectory() as tmp:
        for key in bundles:
            body = c.get_object(Bucket=a.bucket, Key=key)["Body"].read()
            man, files = check_bundle(key, body, problems)
            if man is None:
                continue
            run_ids.add(man.get("run_id"))
            meta = man.get("metadata") or {}
            if a.build_tag and meta.get("build_tag") != a.build_tag:
                problems.append(f"{key}: manifest build_tag {meta.get('build_tag')!r}, "
                                f"expected {a.build_tag!r}")
            if man.get("marker"):
                markers.append(man["marker"])
            for path, data in files.items():
                pid = pid_of(path)
                if pid is None:
                    continue
                dst = os.path.join(tmp, f"{len(os.listdir(tmp))}-{os.path.basename(path)}")
                with open(dst, "wb") as f:
                    f.write(data)
                cd = coverage.CoverageData(basename=dst)
                try:
                    cd.read()
                    measured = cd.measured_files()
                except Exception as e:  # a corrupt worker file
                    problems.append(f"{key}: {path}: unreadable coverage data: {e}")
                    continue
                if not path.startswith(f"run-{man.get('run_id')}/"):
                    problems.append(f"{key}: {path} is not in the run's data dir "
                                    f"run-{man.get('run_id')}/")
                data_files += 1
                pids.add(pid)
                say(f"{key}: {path}: {len(measured)} measured files")
    if not markers:
        problems.append("no bundle carries the shim's done marker")
    for m in markers:
        if m.get("status") != "complete":
            problems.append(f"marker status {m.get('status')!r}, expected 'complete'")
        if m.get("run_id") not in run_ids:
            problems.append("marker run_id differs from the bundles' run_id")
    # The master writes a file (with no lines of the app) when coverage
    # starts in it: process mode, and the wsgi hook under --preload.
    expected = a.workers + (0 if a.mode == "wsgi" else 1)
    problems += count_problems(pids, expected)
    # The count check must be able to fail: one file fewer is caught.
    if pids and not count_problems(set(sorted(pids)[1:]), expected):
        problems.append("self-check: a missing worker file would not be detected")

    env = dict(os.environ)
    env.setdefault("COVSHIP_ENDPOINT", os.environ["COVSHIP_TEST_S3_ENDPOINT"])
    env.setdefault("COVSHIP_PYTHON", sys.executable)  # Debian's coverage.py, not PATH's python3
    cmd = [a.covship, "pull", f"s3://{a.bucket}/{a.prefix}", "--out", a.out, "--combine",
           "--map", f"/app={a.workspace}"]
    say(" ".join(cmd))
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    if not a.quiet:
        sys.stderr.write(r.stdout + r.stderr)
    if r.returncode != 0:
        problems.append(f"covship pull exited {r.returncode}: {r.stderr.strip()[-300:]}")
    xml = os.path.join(a.out, "coverage.xml")
    if r.returncode == 0:
        if not os.path.exists(xml):
            problems.append(f"covship pull wrote no {xml}")
        else:
            check_xml(xml, a.workspace, problems)
    for p in problems:
        print("check: " + p, file=sys.stderr)
    if not problems:
        say(f"ok: {data_files} coverage files from {len(pids)} processes, "
            f"coverage.xml paths under {a.workspace}, hits as requested")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
