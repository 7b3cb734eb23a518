"""Issue 4, test 7: `pull --combine --map` turns real worker data into a
coverage.xml whose file names resolve under the Jenkins workspace and whose
line hits match the requests made.

The Django test app runs under gunicorn (2 workers) from a "container" path,
answers a known set of requests and stops gracefully; `covship push` bundles
the worker files with the shim's markers (written here per the marker
contract); the container path is then deleted, as it would be on Jenkins.
Control: the same pull without --map fails (coverage.py finds no source).

usage: test_pull_combine_map.py COVSHIP APP_DIR"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulltest import check, marker, pull, scratch  # noqa: E402

COVSHIP, APP = sys.argv[1], sys.argv[2]
PYTHON = "/usr/bin/python3"
WORKERS = 2


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def get(sock, path):
    c = UnixHTTP(sock)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def copy_app(dst):
    shutil.copytree(APP, dst, ignore=shutil.ignore_patterns(
        "__pycache__", ".coverage", ".coverage.*", "*.pyc"))


def wait_for(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def run_app(container_app, data_dir, top):
    """Serve the requests of this test, then stop gunicorn gracefully."""
    sock = os.path.join(top, "app.sock")
    ready = os.path.join(top, "ready")
    os.makedirs(ready)
    env = dict(os.environ, COVSHIP_DATA_DIR=data_dir, TESTAPP_READY_DIR=ready)
    proc = subprocess.Popen([PYTHON, "-m", "gunicorn", "--chdir", container_app,
                             "-w", str(WORKERS), "-b", "unix:" + sock, "project.wsgi"],
                            env=env)
    try:
        booted = wait_for(lambda: proc.poll() is not None or (
            len([f for f in os.listdir(ready) if f.startswith("ready.")]) == WORKERS
            and os.path.exists(sock)), 30) and proc.poll() is None
        check(booted, "gunicorn booted %d workers" % WORKERS)
        for _ in range(6):
            st, body = get(sock, "/echo/?text=hello&upper=1")
            check(st == 200 and body == b"HELLO\n", "GET /echo/?upper=1 answered")
            st, _ = get(sock, "/compute/10/")
            check(st == 200, "GET /compute/10/ answered")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    check(proc.returncode == 0, "gunicorn stopped gracefully")


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


def main():
    with scratch() as top:
        container_app = os.path.join(top, "container", "app")
        ws = os.path.join(top, "workspace")
        copy_app(container_app)
        copy_app(ws)
        rid = "%032x" % int.from_bytes(os.urandom(16), "big")
        cov = os.path.join(top, "cov")
        data_dir = os.path.join(cov, "run-" + rid)
        os.makedirs(data_dir)
        os.makedirs(os.path.join(cov, ".covship"))
        with open(os.path.join(cov, ".covship", "run.json"), "w") as f:
            json.dump({"schema": 1, "run_id": rid, "started": "2026-11-25T09:00:00.000Z",
                       "shim_pid": 1, "shim_version": "0.1.0",
                       "data_dir": "run-" + rid}, f)

        run_app(container_app, data_dir, top)
        workers = [f for f in os.listdir(data_dir) if f.startswith(".coverage.")]
        check(len(workers) == WORKERS, "each worker wrote a data file (%d)" % len(workers))
        with open(os.path.join(cov, ".covship", "done.json"), "w") as f:
            json.dump(marker(rid), f)
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
        p = pull(COVSHIP, ["file://" + dest, "--out", out, "--combine",
                           "--map", container_app + "=" + ws])
        check(p.returncode == 0, "pull --combine --map exits 0")
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
    print("PASS")


if __name__ == "__main__":
    main()
