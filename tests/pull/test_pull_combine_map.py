"""Issue 4, test 7: `pull --combine --map` turns real worker data into a
coverage.xml whose file names resolve under the Jenkins workspace and whose
line hits match the requests made; with --html (issue 12, test 8) the HTML
report's pages name the same workspace sources.

The Django test app runs under gunicorn (2 workers) from a "container" path,
behind the real covship-shim as PID 1 of a new PID namespace (it writes
run.json and done.json and gives the workers their data directory), answers
a known set of requests and gets SIGTERM; `covship push` bundles the worker
files with the shim's marker; the container path is then deleted, as it
would be on Jenkins. Control: the same pull without --map fails (coverage.py
finds no source).

usage: test_pull_combine_map.py COVSHIP APP_DIR COVSHIP_SHIM"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from html import unescape as html_unescape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import check, get, init_pid, pull, scratch, wait_for  # noqa: E402

COVSHIP, APP, SHIM = sys.argv[1], sys.argv[2], sys.argv[3]
PYTHON = "/usr/bin/python3"
WORKERS = 2


def copy_app(dst):
    shutil.copytree(APP, dst, ignore=shutil.ignore_patterns(
        "__pycache__", ".coverage", ".coverage.*", "*.pyc"))


def run_app(container_app, cov, top):
    """covship-shim as PID 1 in front of gunicorn: serve the requests of
    this test, then SIGTERM the shim (what `docker stop`/ECS do)."""
    sock = os.path.join(top, "app.sock")
    ready = os.path.join(top, "ready")
    os.makedirs(ready)
    env = dict(os.environ, TESTAPP_READY_DIR=ready)
    env.pop("COVSHIP_DATA_DIR", None)
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "--", SHIM,
                             "--coverage-dir", cov, "--grace", "20", "--",
                             PYTHON, "-m", "gunicorn", "--chdir", container_app,
                             "-w", str(WORKERS), "-b", "unix:" + sock, "project.wsgi"],
                            env=env)
    shim = None
    try:
        booted = wait_for(lambda: proc.poll() is not None or (
            len([f for f in os.listdir(ready) if f.startswith("ready.")]) == WORKERS
            and os.path.exists(sock)), 30) and proc.poll() is None
        check(booted, "gunicorn booted %d workers under covship-shim" % WORKERS)
        shim = init_pid(proc.pid)
        check(shim is not None, "found the shim (PID 1 of the namespace)")
        for _ in range(6):
            st, body = get(sock, "/echo/?text=hello&upper=1")
            check(st == 200 and body == b"HELLO\n", "GET /echo/?upper=1 answered")
            st, _ = get(sock, "/compute/10/")
            check(st == 200, "GET /compute/10/ answered")
        os.kill(shim, signal.SIGTERM)
        proc.wait(timeout=40)
    finally:
        if proc.poll() is None:
            if shim:
                os.kill(shim, signal.SIGKILL)  # takes the namespace with it
            else:
                proc.kill()
            proc.wait()
    check(proc.returncode == 0, "the shim stopped gunicorn gracefully (exit 0)")


def line_of(path, text):
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if text in line:
                return i
    raise AssertionError("%r not in %s" % (text, path))


def read_report(xml_path):
    root = ET.parse(xml_path).getroot()
    sources = [s.text for s in root.iter("source")]
    classes = {}
    for c in root.iter("class"):
        fn = c.get("filename")
        hits = {int(ln.get("number")): int(ln.get("hits")) for ln in c.iter("line")}
        classes[fn] = hits
    return sources, classes


def resolve(sources, fn):
    if os.path.isabs(fn):
        return fn
    for s in sources:
        p = os.path.join(s, fn)
        if os.path.isfile(p):
            return p
    return None


def check_html(html, ws):
    """Test 8: index.html links to one page per source file, and each page
    names a file under the workspace (coverage.py writes names relative to
    the current directory, else absolute: the mapped path either way)."""
    index = os.path.join(html, "index.html")
    check(os.path.isfile(index), "html: index.html exists")
    with open(index) as f:
        pages = sorted(set(re.findall(r'href="([^"/]+\.html)"', f.read())) - {"index.html"})
    named = {}
    for page in pages:
        with open(os.path.join(html, page)) as f:
            m = re.search(r"<title>Coverage for (.+?): \d+%</title>", f.read())
        if m:
            fn = html_unescape(m.group(1))
            named[page] = fn if os.path.isabs(fn) else os.path.join(os.getcwd(), fn)
    check(len(named) >= 5 and len(named) == len(pages),
          "html: index.html links to a page per source file (%d)" % len(pages))
    real_ws = os.path.realpath(ws) + os.sep
    check(all(os.path.isfile(p) and os.path.realpath(p).startswith(real_ws)
              for p in named.values()), "html: every page names a source in the workspace")
    check(os.path.join(ws, "demo", "views", "echo.py") in named.values(),
          "html: demo/views/echo.py has its page")


def main():
    with scratch() as top:
        container_app = os.path.join(top, "container", "app")
        ws = os.path.join(top, "workspace")
        copy_app(container_app)
        copy_app(ws)
        cov = os.path.join(top, "cov")
        os.makedirs(cov)
        run_app(container_app, cov, top)
        with open(os.path.join(cov, ".covship", "run.json")) as f:
            run = json.load(f)
        with open(os.path.join(cov, ".covship", "done.json")) as f:
            done = json.load(f)
        check(done["run_id"] == run["run_id"] and done["status"] == "complete",
              "the shim wrote a complete done marker for its run")
        data_dir = os.path.join(cov, run["data_dir"])
        workers = [f for f in os.listdir(data_dir) if f.startswith(".coverage.")]
        check(len(workers) == WORKERS, "each worker wrote a data file (%d)" % len(workers))
        shutil.rmtree(os.path.join(top, "container"))  # the container is gone

        dest = os.path.join(top, "dest")
        os.makedirs(dest)
        r = subprocess.run([COVSHIP, "push", "--dir", cov, "--dest", "file://" + dest,
                            "--spool", os.path.join(top, "spool")],
                           capture_output=True, text=True, timeout=60)
        print(r.stderr)
        check(r.returncode == 0, "covship push delivered the bundle")

        # Control: without the remap coverage.py cannot find the sources.
        p = pull(COVSHIP, ["file://" + dest, "--out", os.path.join(top, "out-nomap"),
                           "--combine"])
        check(p.returncode == 1, "control: --combine without --map fails (exit 1)")
        check("No source for code" in p.stderr, "control: coverage.py found no source")

        out = os.path.join(top, "out")
        html = os.path.join(top, "html")
        p = pull(COVSHIP, ["file://" + dest, "--out", out, "--combine",
                           "--map", container_app + "=" + ws, "--html", html])
        check(p.returncode == 0, "pull --combine --map --html exits 0")
        check_html(html, ws)
        check("coverage: " in p.stdout and "%" in p.stdout, "the summary prints the total")
        xml_path = os.path.join(out, "coverage.xml")
        sources, classes = read_report(xml_path)
        check(len(classes) >= 5, "the report lists the view modules (%d)" % len(classes))
        resolved = {fn: resolve(sources, fn) for fn in classes}
        check(all(p and os.path.realpath(p).startswith(os.path.realpath(ws) + os.sep)
                  for p in resolved.values()),
              "every file name resolves to a file under the workspace")
        by_name = {os.path.relpath(p, ws): classes[fn] for fn, p in resolved.items()}
        echo, compute, home = (os.path.join("demo", "views", n)
                               for n in ("echo.py", "compute.py", "home.py"))
        check(echo in by_name and compute in by_name and home in by_name,
              "echo, compute and home are in the report")

        def hits(rel, text):
            return by_name[rel].get(line_of(os.path.join(ws, rel), text))

        check(hits(echo, "text = text.upper()") == 1, "echo: the upper branch ran")
        check(hits(echo, "text = text[:100]") == 0, "echo: the truncation never ran")
        check(hits(compute, '"fib": str(fib(n))') == 1, "compute: the answer ran")
        check(hits(compute, "a, b = b, a + b") == 1, "compute: fib's loop ran")
        check(hits(compute, '"error": "n too large"') == 0, "compute: the error never ran")
        check(hits(home, 'if request.GET.get("fail")') == 0, "home: never requested")
        left = [f for d, _, fs in os.walk(out) for f in fs if f.startswith(".coverage.")]
        check(len(left) == WORKERS, "the extracted worker files are kept")

        # --html: an earlier report is replaced; any other directory is
        # refused and left alone; it needs --combine.
        p = pull(COVSHIP, ["file://" + dest, "--out", out, "--combine",
                           "--map", container_app + "=" + ws, "--html", html])
        check(p.returncode == 0, "html: an earlier report is replaced")
        check_html(html, ws)
        p = pull(COVSHIP, ["file://" + dest, "--out", out, "--combine",
                           "--map", container_app + "=" + ws, "--html", ws])
        check(p.returncode == 1 and "is not an earlier coverage.py HTML report" in p.stderr
              and os.path.isfile(os.path.join(ws, "demo", "views", "echo.py")),
              "html: a directory that is not a report is refused and kept")
        p = pull(COVSHIP, ["file://" + dest, "--out", out, "--html", html])
        check(p.returncode == 2 and "--html needs --combine" in p.stderr,
              "html: without --combine is a usage error")
    print("PASS")


if __name__ == "__main__":
    main()
