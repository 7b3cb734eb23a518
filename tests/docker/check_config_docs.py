#!/usr/bin/python3
"""docs/configuration.md must match the programs' --help, both ways.

For every section of configuration.md whose heading names a command
(`## covship-shim`, `## covship`, `## covship watch`, `## covship push`,
`## covship health`, `## covship pull`), the options (`--name`) and
environment variables (`COVSHIP_*`) in the first two cells of its table rows
must be exactly those that command's --help prints. An option in --help
missing from the docs, or documented but gone from --help, fails.

    check_config_docs.py CONFIGURATION.md COVSHIP_SHIM COVSHIP
"""
import glob
import os
import re
import subprocess
import sys

OPT = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*[a-z0-9])")
ENV = re.compile(r"\bCOVSHIP_[A-Z0-9_]*[A-Z0-9]\b")
# "[COVSHIP_ENDPOINT, _REGION, _CA_BUNDLE]": a list that abbreviates the prefix.
ABBREV = re.compile(r"(?<=[,\s])_([A-Z][A-Z0-9_]*[A-Z0-9])\b")


def names(text, abbrev=True):
    out = set(OPT.findall(text)) | set(ENV.findall(text))
    if abbrev:
        out |= {"COVSHIP_" + m for m in ABBREV.findall(text)}
    return out


def help_of(argv):
    r = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=10)
    text = r.stdout + r.stderr
    if r.returncode != 0 or not text.strip():
        raise SystemExit(f"{' '.join(argv)} --help failed (exit {r.returncode})")
    return text


def sections(md):
    """{heading: text} for '## ' headings."""
    out, cur = {}, None
    for line in md.splitlines():
        m = re.match(r"^##\s+`?([^`]+?)`?\s*$", line)
        if m:
            cur = m.group(1).strip()
            out[cur] = []
        elif cur:
            out[cur].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def table_names(text):
    got = set()
    for line in text.splitlines():
        if not line.startswith("|") or re.match(r"^\|[\s:|-]+\|?$", line):
            continue
        cells = line.strip("|").split("|")
        got |= names(" ".join(cells[:2]), abbrev=False)
    return got


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    md_path, shim, covship = argv
    commands = {
        "covship-shim": [shim],
        "covship": [covship],
        "covship watch": [covship, "watch"],
        "covship push": [covship, "push"],
        "covship health": [covship, "health"],
        "covship pull": [covship, "pull"],
    }
    with open(md_path) as f:
        secs = sections(f.read())
    problems = []
    for title, argv_ in commands.items():
        helped = names(help_of(argv_)) - {"--help", "--version"}
        if title not in secs:
            problems.append(f"no section '## {title}' in {md_path}")
            continue
        documented = table_names(secs[title]) - {"--help", "--version"}
        for n in sorted(helped - documented):
            problems.append(f"## {title}: {n} is in `{' '.join(argv_[1:] or ['covship-shim'])} "
                            f"--help` but not in the section's table")
        for n in sorted(documented - helped):
            problems.append(f"## {title}: {n} is documented but not in --help")
        print(f"{title}: {len(helped)} options/variables in --help, "
              f"{len(documented)} documented")
    # Environment variables the code reads but --help does not list (the S3
    # tunables, ...) must still be documented somewhere on the page, and
    # every COVSHIP_* on the page must exist in the code.
    src = os.path.dirname(os.path.dirname(os.path.abspath(md_path)))
    in_code = set()
    for d in ("shim", "sidecar", "sidecar/dest", "sidecar/idle", "pull", "cli",
              "lib/common", "lib/core", "lib/s3"):
        for path in glob.glob(os.path.join(src, d, "*.[ch]")):
            in_code |= set(re.findall(r'"(COVSHIP_[A-Z0-9_]+)', open(path).read()))
    with open(md_path) as f:
        text = f.read()
    page = set(ENV.findall(text))
    prefixes = {v for v in in_code if v.endswith("_")}  # COVSHIP_LABEL_<NAME>
    in_code -= prefixes
    for v in sorted(prefixes):
        if v not in text:
            problems.append(f"{v}* is read by the code but not documented in {md_path}")
    for v in sorted(in_code - page):
        problems.append(f"{v} is read by the code but not documented in {md_path}")
    for v in sorted(page - in_code):
        if not any(v.startswith(p) for p in prefixes):
            problems.append(f"{v} is documented but the code never reads it")
    print(f"code reads {len(in_code)} COVSHIP_* variables, all documented"
          if not any("read by the code" in p for p in problems) else "")
    for p in problems:
        print("check_config_docs: " + p, file=sys.stderr)
    # The check must be able to fail: drop one documented name and it must notice.
    if not problems:
        title = "covship-shim"
        text = secs[title]
        victim = sorted(table_names(text))[0]
        dropped = "\n".join(l for l in text.splitlines() if victim not in l)
        if table_names(dropped) >= names(help_of(commands[title])) - {"--help", "--version"}:
            problems.append("self-check: removing a documented option went unnoticed")
        else:
            print(f"self-check: dropping {victim} from the docs is detected")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
