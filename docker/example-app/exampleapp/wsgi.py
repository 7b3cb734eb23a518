"""WSGI entry point, with the blog's coverage hook.

Recording way 1 of 2 (COVERAGE_MODE=wsgi): each gunicorn worker imports this
module after the fork, starts its own coverage.Coverage and saves it at exit.

Pitfalls this hook avoids (docs/operations.md has the measurements):
- No SIGTERM handler. gunicorn installs its worker signal handlers before it
  imports this module, so a handler set here would replace gunicorn's graceful
  one and abort in-flight requests; a non-re-entrant handler that saves also
  corrupts the data file when the worker gets SIGTERM twice. gunicorn workers
  leave through sys.exit(), so atexit runs: that is enough.
- No file name from os.getpid() taken at import time: under --preload this
  module is imported once in the master and every worker would write
  `.coverage.1` (the master's PID inside the container). data_suffix=True lets
  coverage.py name the file `.coverage.<host>.<pid>.<random>` when it saves,
  in the worker.
- The file goes into COVSHIP_DATA_DIR, the per-run directory covship-shim
  creates: PIDs repeat across containers sharing a volume, run ids do not.

The other way (COVERAGE_MODE=process, the default) needs no code at all:
COVERAGE_PROCESS_START plus a .pth file in the system site (see Dockerfile).
"""
import atexit
import os

if os.environ.get("COVERAGE_MODE") == "wsgi":
    import coverage

    _data_dir = os.environ.get("COVSHIP_DATA_DIR") or os.environ.get("COVSHIP_DIR", "/coverage")
    _cov = coverage.Coverage(
        data_file=os.path.join(_data_dir, ".coverage"),
        data_suffix=True,
        source=[os.path.dirname(os.path.abspath(__file__))],
        config_file=False,
    )
    _cov.start()

    def _save_coverage():
        _cov.stop()
        _cov.save()

    atexit.register(_save_coverage)

from django.core.wsgi import get_wsgi_application  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleapp.settings")
application = get_wsgi_application()
