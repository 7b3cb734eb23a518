#!/usr/bin/python3
"""Every error and warning message covship can print, from the C sources,
against the troubleshooting table of docs/operations.md.

Messages are the format strings of log_error()/log_warn() calls and of the
one-line errors modules write into an `err` buffer (snprintf(err, ...)),
which the callers log. Format directives become `…`.

    errors.py SRCDIR             check: every message has a row in the table
                                 of docs/operations.md and every row's message
                                 still exists in the code (exit 1 otherwise)
    errors.py --list SRCDIR      print the messages (file, level, message)
    errors.py --markdown SRCDIR  print the table for docs/operations.md, with
                                 the fix from FIXES (first match wins)
    errors.py --update SRCDIR    rewrite that table in docs/operations.md
                                 (between the errors:begin/end comments);
                                 run it when messages change, add a FIXES
                                 rule for any message left with TODO
"""
import glob
import os
import re
import sys

CALL = re.compile(r"\b(log_error|log_warn)\s*\(|"
                  r"\b(\w+)\s*\(\s*\w*err\w*\s*,\s*[^,()]+(?:\([^()]*\))?\s*,\s*(?=\")")
STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
FMT = re.compile(r"%[-+ #0]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|z|j|t|L)?[diouxXeEfgGcspn]"
                 r"|%\"\s*PRI\w+\s*\"")
SOURCES = ("shim", "sidecar", "sidecar/dest", "sidecar/idle", "pull", "cli",
           "lib/common", "lib/core", "lib/s3")


def literals_after(text, pos):
    """The adjacent string literals starting at pos (C concatenation),
    or None when the first argument is not a literal."""
    out = []
    i = pos
    while True:
        m = re.compile(r'\s*(?:PRI\w+\s*)?').match(text, i)
        i = m.end()
        m = STRING.match(text, i)
        if not m:
            break
        out.append(m.group(1))
        i = m.end()
    return "".join(out) if out else None


def normalise(msg):
    msg = msg.replace('\\"', '"').replace("\\n", " ").replace("\\t", " ").replace("\\\\", "\\")
    msg = FMT.sub("…", msg)
    msg = msg.replace("%%", "%")
    return re.sub(r"\s+", " ", msg).strip()


def messages(src):
    out = []
    for d in SOURCES:
        for path in sorted(glob.glob(os.path.join(src, d, "*.c"))):
            text = open(path, errors="replace").read()
            text = re.sub(r"/\*.*?\*/", lambda m: " " * len(m.group(0)), text, flags=re.S)
            for m in CALL.finditer(text):
                call = m.group(1) or m.group(2)
                if call in ("fprintf", "printf", "fputs"):
                    continue
                start = m.end()
                lit = literals_after(text, start)
                if lit is None:
                    continue
                msg = normalise(lit)
                if msg in ("…", ""):
                    continue  # log_error("%s", err): the message is the err text
                level = "warning" if call == "log_warn" else "error"
                out.append((os.path.relpath(path, src), level, msg))
    return out


CONFIG = ("Configuration error: nothing was started, exit status 2. Fix the option or "
          "its `COVSHIP_*` variable as the message says ([configuration.md](configuration.md)).")
SYSCALL = ("A system call failed; the message names it and the system error. Usually a "
           "limit of the container (PIDs, memory, open files) or a seccomp profile: "
           "check the task's limits.")
# (regex on the message, fix). First match wins; keep the specific ones first.
FIXES = [
    (r"out of memory", "The process ran out of memory: raise the container's memory limit "
     "(covship itself needs a few MiB)."),
    # before the generic "is not a regular file" rule
    (r"already exists and is not a regular file", "Something that is not a bundle (a "
     "directory, a symlink, a FIFO) is at the bundle's key in the `file://` destination: "
     "covship never replaces it. Remove it or deliver to another prefix; the bundle stays "
     "in the spool and the sources in the volume."),
    (r"could not be put back", "While covship removed a delivered file, another file was "
     "renamed over its name and the name was taken again: that file is kept under the "
     "`.covship-unlink.*` name the message gives (never bundled under it, never deleted). "
     "Do what the message says: give it a new coverage file name (e.g. "
     "`.coverage.<host>.<pid>.<n>`) so it is delivered, or remove it when it was "
     "delivered."),
    (r"can give two bundles the same key", "Every bundle needs a key of its own: "
     "`--key-template` must contain `{bundle}`, or `{run_id}`, `{spool_id}` and `{seq}`; "
     "otherwise a "
     "second bundle replaces the first (`file://`) or is refused (S3). Exit 2, nothing "
     "started."),
    (r"is inside --dir|is inside --dest", "Keep the coverage directory, a `file://` "
     "destination and the spool apart (neither inside the other, compared after resolving "
     "symlinks): a destination inside `--dir` would have its bundles bundled again and "
     "removed, a spool there is shared with the app. Exit 2, nothing started."),
    (r"it was there when the watcher started|went away while watching|^stopping: …; nothing "
     r"was bundled|cannot tell what is left|cannot restart in place", "`--dir` went away "
     "(removed, moved or unmounted) after the watcher started: a runtime error, not bad "
     "configuration. The watcher retries with backoff (up to `--retry-max`) and watches it "
     "again once it is back; at SIGTERM it exits 1 naming what is left. Fix the volume "
     "mount."),
    (r"cannot return to covship watch", "covship-idle could not exec `covship watch` "
     "again (the executable was removed or replaced, e.g. upgraded in place): restart the "
     "sidecar; the spool lock is released when the process ends."),
    (r"--insecure", "Only for testing: drop `--insecure`, or give the CA with `--ca-bundle`."),
    (r"hold no data files", "The bundles hold only the shim's markers: the app wrote no "
     "coverage data. Check that coverage starts in the app (`COVERAGE_PROCESS_START` and the "
     "`.pth`, or the `wsgi.py` hook) and writes into `COVSHIP_DATA_DIR`."),
    (r"^the sidecar cannot read … \(…\): …; run the app", "The sidecar may not read an "
     "app's coverage file: it runs without `CAP_DAC_OVERRIDE`/`CAP_DAC_READ_SEARCH` "
     "(non-root, or `drop: ALL`) and the app wrote the file 0600 (umask 077). Run the app "
     "with umask 022 (or 002 and a group shared with the sidecar), or run the sidecar with "
     "the app's uid/gid. The file is never deleted: it stays, is retried with backoff and "
     "delivered once readable; until then health says degraded, drain and push exit 1."),
    (r"^the sidecar cannot read", "The sidecar could not read an app's coverage file for "
     "the reason given (e.g. an I/O error): check the volume. The file is never deleted: "
     "it stays and is retried; until then health says degraded, drain and push exit 1."),
    (r"could not be read and stay there", "Coverage files the sidecar cannot read stay in "
     "the volume (never deleted); a `the sidecar cannot read …` line named each with the "
     "fix. Fix their permissions, then run `covship push` or let the watcher retry. Exit 1."),
    (r"does not say which files went into the bundle", "The plan was written by an older "
     "covship, which did not record which files its bundle holds: its sources are kept "
     "rather than deleted on a guess, and go into a new bundle (they may arrive twice). "
     "Nothing to do."),
    (r"is not a boolean", CONFIG),
    (r"^(bad |unknown option|option '…' needs|no command given|empty --coverage-dir|"
     r"--[a-z-]+…?:|--…:|…: unknown option|…: unexpected argument|unknown command|"
     r"unexpected argument|missing (URL|--)|bad option|--map and --xml|"
     r"COVSHIP_LOG_FORMAT must)", CONFIG),
    (r"is not a number in|^endpoint|^region '…'|is not an s3:// URL|bucket name|"
     r"bucket names|the prefix is too long", "Fix the S3 setting the message names "
     "(`--endpoint`, `--region`, the `s3://BUCKET/PREFIX` URL, a `COVSHIP_S3_*` tunable); "
     "exit 2 at start."),
    (r"^no AWS credentials found", "Give the sidecar credentials: on ECS set `taskRoleArn` "
     "(ECS then sets `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`), on EC2 an instance profile, "
     "elsewhere `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` or `AWS_PROFILE`."),
    (r"AWS_CONTAINER_CREDENTIALS_FULL_URI|AWS_CONTAINER_AUTHORIZATION_TOKEN|authorization "
     r"token", "The container-credentials variables are malformed: let ECS/EKS set them, "
     "or fix the URL (https, or http only to loopback or the ECS/EKS addresses) and the "
     "token (file readable, no line breaks)."),
    (r"credentials|^EC2 IMDS|^ECS container credentials|AWS_ACCESS_KEY_ID|AWS config file",
     "A credential source answered badly: check the task role (ECS), the instance profile "
     "and IMDS hop limit (EC2; `AWS_EC2_METADATA_V1_DISABLED` forbids the IMDSv1 fallback), "
     "or the shared credentials file the message names."),
    (r"^S3 … …: HTTP", "S3 refused the request: the S3 error code names the cause, see "
     "[S3 error codes](#s3-error-codes) below. Transient codes are retried; the bundle "
     "stays in the spool."),
    (r"^S3 (CreateMultipartUpload|UploadPart|CompleteMultipartUpload|ListObjectsV2)|"
     r"^S3 … …: …+$|writing the download failed", "S3 (or a proxy in between) gave an "
     "unusable answer or the transfer broke (libcurl's reason follows the key): retried; if "
     "it persists, check the endpoint is really S3 and the network path (DNS, proxies, TLS "
     "interception; for a private CA give `--ca-bundle FILE`)."),
    (r"listing stopped by the caller", "Internal: a listing was cut short on purpose (pull "
     "stopped early after another error, reported separately)."),
    (r"in the spool is damaged .* and its sources changed", "A spooled bundle no longer "
     "matched the SHA-256 it was built with (a failing disk, or something writing in the "
     "spool) and some of its files changed or vanished since they were planned, so it cannot "
     "be built again: it is not delivered. Its files stay in the volume and go into a new "
     "bundle; only the planned versions of the changed ones are gone. `push` exits 1, "
     "`health` says failed until the next delivery. Check the spool's disk (`dmesg`, SMART) "
     "and keep the spool private to the sidecar."),
    (r"in the spool is damaged", "Harmless for the data: a spooled bundle no longer matched "
     "the SHA-256 it was built with; nothing was stored from it, and it was built again from "
     "its unchanged files and delivered. If it recurs, check the spool's disk (`dmesg`, "
     "SMART) and that nothing else writes in the spool."),
    (r"damaged again right after it was built", "A bundle was damaged twice in a row between "
     "writing and sending: the spool's disk or the machine's memory is failing. Everything "
     "stays in the spool and is retried; move `--spool` to a healthy disk."),
    (r"removing the damaged|release the sources of the damaged", "The spool's file system "
     "refuses changes (read-only, full, I/O errors): the damaged bundle is not sent and is "
     "dealt with again on the next attempt. Fix the spool's file system."),
    (r"changed while it was sent, and matches", "Something wrote in the spool while a bundle "
     "was sent: nothing was stored, the bundle is retried. Keep the spool private to the "
     "sidecar."),
    (r"changed: the SHA-256 of the parts sent", "The file did not match the SHA-256 it was "
     "sent against (a damaged spooled bundle): the multipart upload was aborted before "
     "Complete, so no object was stored. The sidecar builds the bundle again from its files, "
     "or says why it cannot."),
    (r"of the resumed multipart upload .* differs", "Harmless: the parts an interrupted "
     "upload sent no longer match the file (it was damaged or repaired meanwhile); that "
     "upload is aborted and the file sent afresh."),
    (r"recording the SHA-256 of", "The spool could not be written (full, read-only, I/O "
     "error): the bundle is not built, sources and spool stay as they are, retried later. "
     "Free space in the spool or fix its file system."),
    (r"libcrypto failed", "Internal: OpenSSL's libcrypto failed to hash (usually out of "
     "memory); the upload is retried."),
    (r"cannot read part|changed: its SHA-256|is not a regular file", "A spooled bundle "
     "changed or vanished while it was uploaded (someone touched the spool): it is rebuilt "
     "or retried; keep the spool private to the sidecar."),
    (r"^key template", "Fix `--key-template`/`COVSHIP_KEY_TEMPLATE`: only `{run_id}` "
     "`{hostname}` `{task_id}` `{build}` `{date}` `{seq}` `{bundle}` `{spool_id}`, and the "
     "result must be a relative key without empty, `.` or `..` segments (exit 2)."),
    (r"wait in the spool for their own destination", "The spool holds plans made for "
     "another `--dest` or `--dir` (the same spool used with another configuration): they "
     "go only to their own destination, never to this run's, and only while their "
     "directory is the one recorded. Fix what the parentheses name (credentials, network, "
     "that destination; a directory gone or replaced) and run `covship push` or `watch` "
     "again with this spool (any `--dest`). A directory gone for good: copy its bundle out "
     "of the spool, then remove the plan by hand. Exit 1 meanwhile."),
    (r"planned by an older covship", "A plan of an earlier covship version records no "
     "destination: it goes to this run's `--dest`, as that version did. If that spool was "
     "used with another destination, deliver it with that `--dest` first."),
    (r"is not private to this covship|the default spool on the volume is never followed",
     "The default spool `DIR/.covship-spool` is on the shared volume, where the app writes "
     "too: it must be a real directory (no symlink), owned by the sidecar's user, not "
     "writable by group or others. Remove it (deliver what it holds first) or pass "
     "`--spool DIR` elsewhere (exit 2)."),
    (r"spool id|spool-id|its id|spool's id", "`SPOOL/spool-id` holds the spool's random id, "
     "part of every bundle name so that two spools never make the same key. Damaged: "
     "remove the file (a new id is made; waiting plans keep their names). Never copy a "
     "spool to start another one: the copy makes the same keys. A full disk: free space, "
     "the id is made before the next bundle."),
    (r"cannot return to covship watch", "covship-idle could not exec `covship watch` "
     "again (the binary was removed or replaced, or exec is blocked): the sidecar exits 1; "
     "restart it. The spool and the volume are untouched, so nothing is lost."),
    (r"^health: pass --dir", "`covship health` looks for the watcher's spool: give it the "
     "watcher's `--dir` (`COVSHIP_DIR`, whose spool is `DIR/.covship-spool`) or its "
     "`--spool` (exit 2)."),
    (r"clock is off", "Harmless: covship corrects its signing clock from the server's Date. "
     "Fix NTP on the host."),
    (r"refreshing AWS credentials", "The credential source (ECS task-role endpoint, IMDS) "
     "failed for a moment. If it persists, check the task role and that "
     "`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` is set (ECS sets it when `taskRoleArn` is)."),
    (r"already exists with other content", "Two runs produced the same key: make the key "
     "unique (keep `{bundle}`, or `{run_id}`, `{spool_id}` and `{seq}`, in `--key-template`) "
     "or remove the "
     "old object."),
    (r"existed a moment ago", "Someone deleted the object while covship checked it; the "
     "bundle stays in the spool and is delivered again."),
    (r"multipart", "Harmless for the data: the multipart state could not be saved or "
     "aborted. Add a bucket lifecycle rule `AbortIncompleteMultipartUpload` (e.g. 1 day) "
     "to clean up abandoned parts; free space in the spool."),
    (r"grace of … s expired", "Processes were still running when `--grace` ran out and were "
     "SIGKILLed: their coverage is lost (`done.json` says `grace-expired` and lists them). "
     "Lower gunicorn's graceful timeout below the grace, or raise the grace and the stop "
     "timeout together ([Timeouts must nest](#timeouts-must-nest))."),
    (r"subreaper", "The shim is not PID 1 and cannot adopt orphans (very old kernel or a "
     "seccomp profile): run it as the container's entrypoint."),
    (r"/proc is not mounted", "Mount a /proc for the container's PID namespace (every "
     "container runtime does; with `unshare` add `--mount-proc`)."),
    (r"cannot run …", "The command cannot be executed or is not found. covship-shim (exit "
     "126/127): fix the image's CMD, the PATH or the execute bit; covship pull: install "
     "`python3-coverage` or pass `--python`."),
    (r"sidecar will not see this run as finished", "The shim could not write `done.json` "
     "(volume full or read-only): the sidecar then waits for its drain timeout and "
     "leaves the files. Fix the volume."),
    (r"coverage dir|make the coverage dir writable", "The coverage directory must be an "
     "absolute, writable path (the shared volume): fix the mount or its permissions "
     "(exit 2, nothing started)."),
    (r"run id|randomness", "The kernel gave no random bytes (getrandom failed): a seccomp "
     "profile blocks it or the kernel is very old."),
    (r"drain timeout", "This run's `done.json` did not appear within `--drain-timeout`: the "
     "app was SIGKILLed before the shim finished (stop timeout too short, see "
     "[Timeouts must nest](#timeouts-must-nest)), or the shim's `--coverage-dir` is not "
     "the sidecar's `--dir`."),
    (r"bundle\(s\) left in the spool", "Delivery failed (the reason is in the message, e.g. "
     "AccessDenied, NoSuchBucket, no network): fix it, then run `covship push` with the "
     "same `--spool`, or restart `covship watch`: the spool is delivered first. Exit 1."),
    (r"were not final", "No `done.json` of this run arrived, so these files may be "
     "incomplete and were not bundled: the app did not finish its flush (see drain "
     "timeout), or the app has no shim (`--coverage-dir`). For services that never stop use "
     "`--snapshot-interval`."),
    (r"flush was incomplete", "The shim's marker says `grace-expired`, or there is none: "
     "some processes were killed before they saved. Raise the stop timeout and grace "
     "([Timeouts must nest](#timeouts-must-nest)), or pass `--allow-incomplete` to use "
     "what there is (exit 4 otherwise)."),
    (r"corrupt or unsafe|is damaged|SHA-256", "A bundle failed verification (altered in "
     "storage or transit, or an unsafe entry such as `../x` or an absolute path): nothing "
     "of it was extracted (exit 3). Re-deliver it or investigate the bucket."),
    (r"NOT combined|could not be combined", "coverage.py cannot read a data file (corrupt: a "
     "worker killed mid-save, or a non-re-entrant SIGTERM handler hit twice). No report is "
     "written rather than an understated one (exit 5). Save from atexit ([Recording "
     "coverage](#recording-coverage-in-the-app-two-ways-and-the-traps))."),
    (r"format python|only understands coverage.py", "`--combine` handles coverage.py data "
     "only: pull without `--combine` and merge other formats with their own tools."),
    (r"--map|found no source", "`--map SRC=DST`: SRC is the path recorded in the container "
     "(e.g. `/app`), DST where the same sources are here (e.g. `$WORKSPACE`); DST must "
     "exist ([jenkins.md](jenkins.md#how-the-path-mapping-works))."),
    (r"set --python|-m coverage|coverage\.py: ", "coverage.py failed or is missing: "
     "`apt-get install python3-coverage`, or `--python PATH` of an interpreter that has it; "
     "the log file next to the message has coverage.py's own output."),
    (r"^no bundles", "Nothing under the URL: check bucket and prefix (with the "
     "`{build}/...` key template the prefix ends in the `BUILD_TAG`), that the sidecar "
     "delivered (its log says `delivered`), and the ListBucket prefix of the credentials."),
    (r"^manifest:", "A bundle's `covship-manifest.json` is malformed: the object was not "
     "written by a compatible covship or was altered. Use matching covship versions."),
    (r"ECS metadata|ECS_CONTAINER_METADATA", "Only metadata is missing (`\"ecs\": null` in "
     "the manifest); the coverage is delivered. Check the task's access to the metadata "
     "endpoint if you need the task ARN."),
    (r"gethostname", "Only metadata is missing (hostname `unknown`)."),
    (r"libcurl initialisation", "libcurl could not initialise: reinstall `libcurl4` in the "
     "image; check the memory limit."),
    (r"max_user_watches", "Raise `fs.inotify.max_user_watches` on the host (sysctl), or keep "
     "fewer directories in the volume."),
    (r"event queue overflowed", "Harmless: the watcher rescans the directory. If frequent, "
     "raise `fs.inotify.max_queued_events`."),
    (r"^inotify", "inotify is not usable in this container: check "
     "`fs.inotify.max_user_instances` on the host and that /proc is mounted."),
    (r"in use by another covship", "Two covship processes share a spool: give each its own "
     "`--spool` (exit 2)."),
    (r"^file destination|^destination '…'", "A `file://` destination must be an absolute, "
     "existing, writable directory (mount the host directory there); the bundle stays in "
     "the spool."),
    (r"source URL|^file source|^source directory", "`covship pull file:///dir`: the "
     "directory must exist and be readable; odd entries (symlinks, too deep, too long) are "
     "skipped."),
    (r"no S3 client", "This covship was built without the S3 module: use an official build "
     "or a `file://` source."),
    (r"retrying later|kept in the spool|keeping it", "A transient delivery failure (network, "
     "5xx, throttling, disk full): covship retries with backoff and deletes nothing. If it "
     "persists, fix what the message names."),
    (r"cannot remove delivered", "The data is delivered but a file could not "
     "be removed (permissions): make the volume writable for the sidecar, or use "
     "`--keep-sources`."),
    (r"extract outside --out", "An object under the prefix has a key with `..` or an "
     "absolute path: skipped on purpose. Remove it from the bucket."),
    (r"^skipping|not descending|leaving out|not a regular file", "Not a regular file "
     "(symlink, FIFO, device) or a path too long or too deep in the coverage directory: "
     "skipped on purpose and never followed. Nothing to do unless it was meant to be "
     "coverage data."),
    (r"^stage:", "Compress-ahead staging (SPOOL/stage) is only a head start: when it "
     "cannot be used, bundles are compressed when they are built and nothing is lost. "
     "If it repeats, fix what the message names (spool permissions, free space)."),
    (r"crash cut short", "Nothing to do: the machine went down while covship was writing a "
     "plan (written without an fsync of its own, made durable just before its bundle); "
     "nothing had been bundled, delivered or removed for it, and its files go into the "
     "next bundle."),
    (r"spool|status\.json", "The spool must be a writable directory with free space "
     "(`--spool`/`COVSHIP_SPOOL`); nothing is deleted and delivery is retried."),
    (r"^--out|work directory|staging|download directory|move into|extract outside|"
     r"^combine:", "`covship pull` cannot write below `--out`: give a writable directory "
     "with free space (exit 1)."),
    (r"cannot fork|poll|waitpid|sigprocmask|signalfd|reading signals|signal handling|SIGKILL|SIGTERM|"
     r"forward|in /proc|working directory|export COVSHIP", SYSCALL),
    (r"^… …: HTTP …$", "An HTTP endpoint covship talks to (S3, a credential or metadata "
     "endpoint) answered with this status: check that endpoint and the network path."),
    (r"reading …|^read:|not XML|cannot open|cannot read directory|cannot create|"
     r"^cannot read …|^cannot remove …|^… …: …$|^…: …$|^…/…: …$|bundle …: …|^--dir …|^--dest|"
     r"^--spool|^start-up|^xml: …|^bundle:", "The message names the file or step and the "
     "system or library error (permissions, disk full, I/O): fix that and run again."),
]


def fix_for(msg):
    for rx, fix in FIXES:
        if re.search(rx, msg):
            return fix
    return None


def table_rows(md):
    """Message cells (first column, between backticks) of the generated
    table in docs/operations.md (between the errors:begin/end comments)."""
    rows = []
    inside = False
    for line in md.splitlines():
        if line.startswith("<!-- errors:"):
            inside = line.startswith("<!-- errors:begin")
            continue
        if inside and line.startswith("| `"):
            m = re.match(r"^\|\s*`(.*?)`\s*\|", line)
            if m:
                rows.append(normalise(m.group(1).replace("\\|", "|")))
    return rows


def main(argv):
    listing = "--list" in argv
    markdown = "--markdown" in argv
    update = "--update" in argv
    args = [a for a in argv if a not in ("--list", "--markdown", "--update")]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    src = args[0]
    msgs = messages(src)
    if listing:
        for path, level, msg in msgs:
            print(f"{path}\t{level}\t{msg}")
        return 0
    if markdown or update:
        seen = set()
        missing = 0
        lines = ["| message | from | fix |", "|---|---|---|"]
        for path, level, msg in msgs:
            if msg in seen:
                continue
            seen.add(msg)
            fix = fix_for(msg)
            if fix is None:
                missing += 1
                fix = "TODO"
            cell = msg.replace("|", "\\|").replace("`", "'")
            prog = "covship-shim" if path.startswith("shim/") else "covship"
            lines.append(f"| `{cell}` | {prog} {level} | {fix} |")
        print(f"{missing} messages without a fix rule", file=sys.stderr)
        if markdown:
            print("\n".join(lines))
            return 0
        doc = os.path.join(src, "docs", "operations.md")
        text = open(doc).read()
        begin, end = "<!-- errors:begin -->", "<!-- errors:end -->"
        if begin not in text or end not in text:
            print(f"{doc}: no {begin} ... {end} markers", file=sys.stderr)
            return 1
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        with open(doc + ".tmp", "w") as f:
            f.write(head + begin + "\n" + "\n".join(lines) + "\n" + end + tail)
        os.replace(doc + ".tmp", doc)
        print(f"{doc}: {len(lines) - 2} rows")
        return 1 if missing else 0
    rows = table_rows(open(os.path.join(src, "docs", "operations.md")).read())
    # Table cells cannot hold backticks: they are written as quotes.
    msgs = [(p, lv, m.replace("`", "'")) for p, lv, m in msgs]
    code = {m for _, _, m in msgs}
    problems = []
    for path, level, msg in msgs:
        if msg not in rows:
            problems.append(f"{path}: {level} `{msg}` has no row in the troubleshooting table")
    for r in rows:
        if r not in code:
            problems.append(f"docs/operations.md: row `{r}` is no longer printed by the code")
    # The check must be able to fail: a table without its first row is caught.
    if rows and all(m in rows[1:] for _, _, m in msgs if m == rows[0]) and rows[0] in code:
        problems.append("self-check: removing a row from the table went unnoticed")
    for p in sorted(set(problems)):
        print("errors: " + p, file=sys.stderr)
    print(f"errors: {len(code)} distinct messages in the code, {len(rows)} rows documented")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
