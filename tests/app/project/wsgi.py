"""WSGI entry point with the blog-style coverage hook.

Without --preload gunicorn imports this module in every worker after the
fork, so each worker starts its own coverage.py at import and saves one data
file when it exits (atexit: gunicorn workers leave through sys.exit()).

Where the data file goes: $COVSHIP_DATA_DIR (exported by covship-shim), else
$COVERAGE_DIR, else this app directory.  Names use coverage's parallel suffix
`.coverage.<hostname>.<pid>.<random>`, unique per worker and per container.

Test knobs (environment):
  TESTAPP_FLUSH_DELAY=S        sleep S seconds before saving (a slow flush)
  TESTAPP_SIGTERM_HANDLER=naive
                               install the blog's SIGTERM handler (stop, save,
                               exit) which is NOT re-entrant: a second SIGTERM
                               during save() re-enters it and can corrupt the
                               data file.  It replaces gunicorn's graceful one.
  TESTAPP_READY_DIR=D          create D/ready.<pid> once this worker has loaded
                               the app (tests wait for every worker to boot);
                               the naive handler appends a line to
                               D/sigterm.<pid> each time it is entered
"""
import atexit
import os
import signal
import sys
import time

import coverage

APP_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _data_dir():
    return (os.environ.get("COVSHIP_DATA_DIR")
            or os.environ.get("COVERAGE_DIR")
            or APP_DIR)


def _flush_delay():
    try:
        return float(os.environ.get("TESTAPP_FLUSH_DELAY") or 0)
    except ValueError:
        return 0.0


cov = coverage.Coverage(
    data_file=os.path.join(_data_dir(), ".coverage"),
    data_suffix=True,
    config_file=os.path.join(APP_DIR, ".coveragerc"),
)
cov.start()


def save_coverage():
    delay = _flush_delay()
    if delay > 0:
        time.sleep(delay)
    cov.stop()
    cov.save()


def _log_sigterm():
    # Tests count how often each worker's handler ran (1 = one SIGTERM).
    d = os.environ.get("TESTAPP_READY_DIR")
    if d:
        with open(os.path.join(d, "sigterm.%d" % os.getpid()), "a") as fh:
            fh.write("%.6f\n" % time.time())


if os.environ.get("TESTAPP_SIGTERM_HANDLER") == "naive":
    def _naive_sigterm(signum, frame):
        # The blog's handler, verbatim in spirit: no guard against being
        # entered a second time while the first save() is still writing.
        _log_sigterm()
        save_coverage()
        sys.exit(0)

    signal.signal(signal.SIGTERM, _naive_sigterm)
else:
    atexit.register(save_coverage)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

if os.environ.get("TESTAPP_READY_DIR"):
    open(os.path.join(os.environ["TESTAPP_READY_DIR"],
                      "ready.%d" % os.getpid()), "w").close()
