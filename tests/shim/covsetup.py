"""Helpers of the coverage-setup tests (docs/coverage-setup.md): the test app
recorded the way the example image records it, under covship-shim as PID 1.

The example image (docker/example-app) starts coverage.py in every Python
process through COVERAGE_PROCESS_START=.coveragerc and a `.pth` line in the
system site.  Here the same start-up line sits in a `sitecustomize.py` on
PYTHONPATH (a test must not write into the system site); coverage.py then
starts at interpreter start-up exactly as with the `.pth`.  The rcfile is
docker/example-app/.coveragerc itself, with `source_pkgs` pointed at the test
app's package and, for the documented configurations, a `concurrency` line.
"""
import os
import re
import subprocess

from testlib import APP_DIR, PYTHON, App, Namespace, app_env, coverage_files

REPO = os.path.normpath(os.path.join(APP_DIR, "..", ".."))
EXAMPLE_RC = os.path.join(REPO, "docker", "example-app", ".coveragerc")


def write_rcfile(path, concurrency=None):
    """The example .coveragerc measuring `demo`; `concurrency` added if given."""
    with open(EXAMPLE_RC) as fh:
        text = fh.read()
    text, n = re.subn(r"(?m)^source_pkgs = .*$", "source_pkgs = demo", text)
    if n != 1:
        raise RuntimeError(f"no source_pkgs line in {EXAMPLE_RC}")
    if concurrency:
        text = text.replace("[run]\n", f"[run]\nconcurrency = {concurrency}\n", 1)
    with open(path, "w") as fh:
        fh.write(text)
    return path


def write_startup(site_dir):
    """sitecustomize.py with the example's .pth line, in site_dir."""
    os.makedirs(site_dir, exist_ok=True)
    with open(os.path.join(site_dir, "sitecustomize.py"), "w") as fh:
        fh.write("import coverage; coverage.process_startup()\n")
    return site_dir


def marked_lines(relpath):
    """{mark: line number} of the `# mark: NAME` comments in tests/app/RELPATH."""
    out = {}
    with open(os.path.join(APP_DIR, relpath)) as fh:
        for no, line in enumerate(fh, 1):
            m = re.search(r"# mark: ([\w-]+)", line)
            if m:
                out[m.group(1)] = no
    return out


def measured(files):
    """Union of the measured lines of every data file: {basename of source
    file: set(lines)}, plus the number of files that did not read."""
    import coverage
    lines, bad = {}, 0
    for p in files:
        try:
            d = coverage.CoverageData(basename=p)
            d.read()
            for f in d.measured_files():
                lines.setdefault(os.path.basename(f), set()).update(
                    d.lines(f) or ())
        except Exception:   # an unreadable file counts, it is not fatal here
            bad += 1
    return lines, bad


class ProcessApp(App):
    """The test app under gunicorn (project.wsgi_process, no hook), recording
    through COVERAGE_PROCESS_START, behind covship-shim as PID 1.

    app: the entry point (project.asgi for uvicorn's worker).  ready_files:
    how many TESTAPP_READY_DIR files mean "booted" (default: one per worker;
    1 under --preload, where only the master loads the app).  Waiting,
    stopping and the log are testlib.App's."""

    def __init__(self, shim, workdir, covdir, rcfile, worker_class="sync",
                 workers=1, graceful=20, grace=25, extra=(),
                 app="project.wsgi_process", ready_files=None):
        self.workdir = workdir
        self.workers = workers if ready_files is None else ready_files
        self.sock = os.path.join(workdir, "app.sock")
        self.ready = os.path.join(workdir, "ready")
        os.makedirs(self.ready, exist_ok=True)
        self.log = os.path.join(workdir, "ns.log")
        site = write_startup(os.path.join(workdir, "site"))
        argv = [shim, "--coverage-dir", covdir, "--grace", str(grace), "--",
                PYTHON, "-m", "gunicorn", "--chdir", APP_DIR,
                "-w", str(workers), "-k", worker_class,
                "-b", "unix:" + self.sock,
                "--graceful-timeout", str(graceful),
                "--log-level", "warning"] + list(extra) + [app]
        env = app_env(TESTAPP_READY_DIR=self.ready,
                      COVERAGE_PROCESS_START=rcfile, PYTHONPATH=site)
        self.logfh = open(self.log, "wb")
        self.ns = Namespace(argv, env=env, stdout=self.logfh,
                            stderr=subprocess.STDOUT)

    def log_tail(self, n=3000):
        """More than App's default: gunicorn's SIGKILL line comes late."""
        return super().log_tail(n)


def data_files(covdir):
    return coverage_files(covdir)
