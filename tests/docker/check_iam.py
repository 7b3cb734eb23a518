#!/usr/bin/python3
"""Check the IAM policy documents in docker/iam/ against the S3 calls the
code actually makes.

The S3 operations are derived from the sources, not from a list kept here:
every S3 API operation name or request shape (e.g. `?uploads`,
`list-type=2`, a HEAD request) found in the S3 module and its callers. The
upload side (what `covship watch/push` reaches through the s3:// destination)
needs the task role; the download side (`covship pull`) needs the Jenkins
policy. Each policy must allow every action its side needs and nothing else
(least privilege), on the bucket/prefix of the ECS task definition's
COVSHIP_DEST.

    check_iam.py SRCDIR        (the repository root)
    check_iam.py --self-test SRCDIR
        also: policies with a missing action, an extra action or a too-wide
        resource must fail.
"""
import copy
import glob
import json
import os
import re
import sys

# S3 API operation -> IAM action (AWS "Actions, resources, and condition keys
# for Amazon S3"; HeadObject is authorised by s3:GetObject, the multipart
# upload calls by s3:PutObject, ListObjectsV2 by s3:ListBucket).
OP_ACTION = {
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "DeleteObject": "s3:DeleteObject",
    "DeleteObjects": "s3:DeleteObject",
    "CopyObject": "s3:PutObject",
}
BUCKET_ACTIONS = {"s3:ListBucket", "s3:ListBucketMultipartUploads"}

# Request shapes that give an operation away even when its name is not
# written in the source.
SHAPES = [
    (re.compile(r'"[^"\n]*\buploads\b'), "CreateMultipartUpload"),
    (re.compile(r'partNumber'), "UploadPart"),
    (re.compile(r'list-type'), "ListObjectsV2"),
    (re.compile(r'"DELETE"'), "AbortMultipartUpload"),
    (re.compile(r'"HEAD"'), "HeadObject"),
]


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)


def scan(paths):
    """{operation: [file:line, ...]} from code (comments excluded)."""
    found = {}
    names = re.compile(r"\b(" + "|".join(sorted(OP_ACTION, key=len, reverse=True)) + r")\b")
    for path in paths:
        with open(path, errors="replace") as f:
            text = strip_comments(f.read())
        for i, line in enumerate(text.splitlines(), 1):
            for m in names.finditer(line):
                found.setdefault(m.group(1), []).append(f"{path}:{i}")
            for rx, op in SHAPES:
                if rx.search(line):
                    found.setdefault(op, []).append(f"{path}:{i}")
    return found


def calls(paths, fn):
    rx = re.compile(r"\b" + fn + r"\s*\(")
    for p in paths:
        with open(p, errors="replace") as f:
            if rx.search(strip_comments(f.read())):
                return True
    return False


def sides(src):
    """The S3 operations of the upload side and of the pull side."""
    s3 = sorted(glob.glob(os.path.join(src, "lib", "s3", "*.c")))
    pull = sorted(glob.glob(os.path.join(src, "pull", "*.c")))
    dest = sorted(glob.glob(os.path.join(src, "sidecar", "dest", "dest_s3.c")))
    ops_all = scan(s3)
    # Which module functions each side calls decides which operations it
    # reaches: s3_put_file (PutObject, multipart), s3_head_object,
    # s3_get_object*/s3_get_each, s3_list_objects.
    upload_files = dest + [p for p in s3 if re.search(r"put|upload|multipart|part",
                                                      os.path.basename(p))]
    upload, down = set(), set()
    put_ops = {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
               "AbortMultipartUpload", "ListParts", "ListMultipartUploads"}
    if calls(dest, "s3_put_file") or not dest:
        upload |= put_ops & set(ops_all)
        upload.add("PutObject")
        # 412 on a conditional put is verified with HEAD, by the destination
        # or inside the upload code.
        if calls(upload_files, "s3_head_object") or \
                set(scan(upload_files)) & {"HeadObject"}:
            upload.add("HeadObject")
    if calls(pull, "s3_list_objects"):
        down.add("ListObjectsV2")
    if calls(pull, "s3_get_objects") or calls(pull, "s3_get_each") or \
            calls(pull, "s3_get_object_to_fd"):
        down.add("GetObject")
    if calls(pull, "s3_head_object"):
        down.add("HeadObject")
    return upload, down, ops_all, s3 + pull


def load(path):
    with open(path) as f:
        return json.load(f)


def as_list(v):
    return v if isinstance(v, list) else [v]


def policy_problems(name, pol, needed, bucket, prefix):
    p = []
    if pol.get("Version") != "2012-10-17":
        p.append(f"{name}: Version must be \"2012-10-17\"")
    allowed = {}
    for i, st in enumerate(pol.get("Statement", [])):
        if st.get("Effect") != "Allow":
            continue
        for key in ("Action", "Resource"):
            if key not in st:
                p.append(f"{name}: Statement[{i}] has no {key}")
        for a in as_list(st.get("Action", [])):
            if "*" in a:
                p.append(f"{name}: Statement[{i}]: wildcard action {a} is not least privilege")
            for r in as_list(st.get("Resource", [])):
                allowed.setdefault(a, []).append((r, st.get("Condition")))
    obj_arn = f"arn:aws:s3:::{bucket}/{prefix}*" if prefix else f"arn:aws:s3:::{bucket}/*"
    for a in sorted(needed):
        if a not in allowed:
            p.append(f"{name}: missing {a} (the code calls it)")
    for a, rs in sorted(allowed.items()):
        if a not in needed:
            p.append(f"{name}: {a} is allowed but the code never needs it")
            continue
        for r, cond in rs:
            if a in BUCKET_ACTIONS:
                if r != f"arn:aws:s3:::{bucket}":
                    p.append(f"{name}: {a} must be on arn:aws:s3:::{bucket}, not {r}")
                pre = (cond or {}).get("StringLike", {}).get("s3:prefix") or \
                    (cond or {}).get("StringEquals", {}).get("s3:prefix")
                if prefix and not pre:
                    p.append(f"{name}: {a} has no s3:prefix condition: it lists the whole bucket")
                elif prefix and not all(x.startswith(prefix) for x in as_list(pre)):
                    p.append(f"{name}: {a} s3:prefix {pre} is outside {prefix}")
            elif r != obj_arn:
                p.append(f"{name}: {a} on {r}, expected exactly {obj_arn}")
    return p


def trust_problems(name, pol):
    for st in pol.get("Statement", []):
        if st.get("Action") == "sts:AssumeRole" and \
                st.get("Principal", {}).get("Service") == "ecs-tasks.amazonaws.com":
            return []
    return [f"{name}: must let ecs-tasks.amazonaws.com sts:AssumeRole"]


def dest_of(src):
    td = load(os.path.join(src, "docker", "ecs", "task-definition.json"))
    for c in td["containerDefinitions"]:
        for e in c.get("environment", []):
            if e["name"] == "COVSHIP_DEST":
                m = re.fullmatch(r"s3://([^/]+)/?(.*)", e["value"])
                prefix = m.group(2)
                if prefix and not prefix.endswith("/"):
                    prefix += "/"
                return m.group(1), prefix
    raise SystemExit("task-definition.json: no COVSHIP_DEST")


def all_problems(src, task, jenkins, trust):
    upload, down, _, _ = sides(src)
    bucket, prefix = dest_of(src)
    need_task = {OP_ACTION[o] for o in upload}
    need_jenkins = {OP_ACTION[o] for o in down}
    return (policy_problems("task-role-policy.json", task, need_task, bucket, prefix) +
            policy_problems("jenkins-policy.json", jenkins, need_jenkins, bucket, prefix) +
            trust_problems("task-role-trust.json", trust))


def main(argv):
    self_test = "--self-test" in argv
    args = [a for a in argv if a != "--self-test"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    src = args[0]
    iam = os.path.join(src, "docker", "iam")
    for path in sorted(glob.glob(os.path.join(iam, "*.json"))):
        load(path)  # every file must be valid JSON (raises otherwise)
    task = load(os.path.join(iam, "task-role-policy.json"))
    jenkins = load(os.path.join(iam, "jenkins-policy.json"))
    trust = load(os.path.join(iam, "task-role-trust.json"))
    upload, down, ops_all, files = sides(src)
    if not files:
        print("check_iam: no S3 sources found under lib/s3/", file=sys.stderr)
        return 1
    for op in sorted(ops_all):
        print(f"  code uses {op} -> {OP_ACTION[op]} ({ops_all[op][0]})")
    print(f"  upload side: {sorted(upload)}; pull side: {sorted(down)}")
    found = all_problems(src, task, jenkins, trust)
    for line in found:
        print("check_iam: " + line, file=sys.stderr)
    if found:
        return 1
    print("check_iam: policies allow exactly what the code calls")
    if not self_test:
        return 0
    bad = 0
    broken = []
    t = copy.deepcopy(task)
    t["Statement"][0]["Action"] = [a for a in as_list(t["Statement"][0]["Action"])
                                   if a != "s3:PutObject"]
    broken.append(("task role without s3:PutObject", t, jenkins))
    t = copy.deepcopy(task)
    t["Statement"][0]["Action"] = as_list(t["Statement"][0]["Action"]) + ["s3:DeleteObject"]
    broken.append(("task role with s3:DeleteObject", t, jenkins))
    t = copy.deepcopy(task)
    t["Statement"][0]["Resource"] = "arn:aws:s3:::*"
    broken.append(("task role on every bucket", t, jenkins))
    j = copy.deepcopy(jenkins)
    j["Statement"][0].pop("Condition", None)
    broken.append(("Jenkins lists the whole bucket", task, j))
    j = copy.deepcopy(jenkins)
    j["Statement"] = j["Statement"][:1]
    broken.append(("Jenkins without s3:GetObject", task, j))
    for what, t, j in broken:
        p = all_problems(src, t, j, trust)
        print(f"  broken copy: {what}: {'caught: ' + p[0] if p else 'MISSED'}")
        bad += not p
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
