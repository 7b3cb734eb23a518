#!/usr/bin/python3
"""Check the Dockerfiles under docker/ (docs/operations.md, "Hardened task").

1. The base image is pinned by digest: each Dockerfile's `ARG BASE=` default
   is NAME@sha256:<64 hex digits>, right below a comment that says what it
   is and how to move it, the same digest in every Dockerfile, and every
   FROM builds on ${BASE} or ${BUILDER} (so that the tests' local base can
   replace it with --build-arg BASE=...).
2. The sidecar image runs as a non-root numeric user (ECS and Kubernetes
   can then check runAsNonRoot).
3. The sidecar's and the example app's images both make /coverage the
   same: group 10001 (shared), setgid, 2770, and declare VOLUME /coverage,
   so that whichever image fills the empty task volume, the sidecar can
   write its spool there and reads the app's files through the group.

    check_images.py SRCDIR
Deliberately broken copies must fail (the self-test always runs)."""
import glob
import os
import re
import sys

PIN = re.compile(r"^ARG BASE=(\S+)@sha256:([0-9a-f]{64})$")


def base_problems(name, lines):
    """Problems of one Dockerfile's BASE pin; returns (problems, digest)."""
    args = [i for i, l in enumerate(lines) if l.startswith("ARG BASE=")]
    if len(args) != 1:
        return [f"{name}: want exactly one `ARG BASE=` line, found {len(args)}"], None
    i = args[0]
    m = PIN.match(lines[i])
    p = []
    if not m:
        p.append(f"{name}: `{lines[i]}` is not pinned by digest (NAME@sha256:<64 hex>)")
    if i == 0 or not lines[i - 1].startswith("#"):
        p.append(f"{name}: the BASE pin needs a comment right above it (what it is, "
                 f"how to move it)")
    froms = [l.split()[1] for l in lines if l.upper().startswith("FROM ")]
    if "${BASE}" not in froms or set(froms) - {"${BASE}", "${BUILDER}"}:
        p.append(f"{name}: every FROM must build on ${{BASE}} (or ${{BUILDER}}), "
                 f"or --build-arg BASE cannot replace the pinned image: {froms}")
    return p, (m.group(1), m.group(2)) if m else None


def sidecar_problems(lines):
    users = [l.split()[1] for l in lines if l.startswith("USER ")]
    uid = users[-1].split(":")[0] if users else ""
    if not uid.isdigit() or uid == "0":
        return [f"sidecar/Dockerfile: the last USER must be a non-root numeric uid, "
                f"found {users[-1] if users else 'none'}"]
    return []


def volume_problems(name, lines):
    p = []
    if not any(re.search(r"install -d -o root -g 10001 -m 2770 /coverage\b", l) for l in lines):
        p.append(f"{name}: /coverage must be made with `install -d -o root -g 10001 -m 2770 "
                 f"/coverage` (the shared group, setgid) in both images")
    if not any(re.match(r'^VOLUME \[?"?/coverage"?\]?$', l) for l in lines):
        p.append(f"{name}: VOLUME /coverage is missing (ECS copies the image's /coverage "
                 f"mode and group into the task volume only with it)")
    return p


def problems(files):
    """files: {name relative to docker/: [lines]}."""
    p, pins = [], {}
    for name, lines in sorted(files.items()):
        found, pin = base_problems(name, lines)
        p += found
        if pin:
            pins[name] = pin
    if len(set(pins.values())) > 1:
        p.append(f"different BASE pins: {sorted(set(pins.values()))}; use one")
    for name in ("sidecar/Dockerfile", "example-app/Dockerfile"):
        if name not in files:
            p.append(f"no {name}")
            continue
        p += volume_problems(name, files[name])
    if "sidecar/Dockerfile" in files:
        p += sidecar_problems(files["sidecar/Dockerfile"])
    return p


def replace(files, name, old, new):
    out = {k: list(v) for k, v in files.items()}
    out[name] = "\n".join(re.sub(old, new, l) for l in out[name]).split("\n")
    return out


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    docker = os.path.join(argv[0], "docker")
    files = {}
    for path in glob.glob(os.path.join(docker, "**", "Dockerfile*"), recursive=True):
        with open(path) as f:
            files[os.path.relpath(path, docker)] = [l.rstrip("\n") for l in f]
    found = problems(files)
    for line in found:
        print(f"docker/{line}", file=sys.stderr)
    if found:
        return 1
    print(f"docker/: {len(files)} Dockerfiles, one BASE pinned by digest, sidecar non-root")
    s = "sidecar/Dockerfile"
    broken = [
        ("a tag instead of a digest", replace(files, s, r"^(ARG BASE=\S+)@sha256:\S+$", r"\1")),
        ("no comment above the pin", replace(files, s, r"^ARG BASE=", "\nARG BASE=")),
        ("two different digests", replace(files, s, r"sha256:[0-9a-f]{8}", "sha256:00000000")),
        ("FROM a fixed image", replace(files, s, r"^FROM \$\{BASE\}$", "FROM debian:bookworm-slim")),
        ("root sidecar", replace(files, s, r"^USER .*", "USER 0")),
        ("no VOLUME", replace(files, s, r"^VOLUME .*", "# no volume")),
        ("app's /coverage without setgid",
         replace(files, "example-app/Dockerfile", r"-m 2770 /coverage", "-m 0770 /coverage")),
    ]
    missed = 0
    for what, copy in broken:
        p = problems(copy)
        print(f"  broken copy: {what}: {'caught: ' + p[0] if p else 'MISSED'}")
        missed += not p
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
