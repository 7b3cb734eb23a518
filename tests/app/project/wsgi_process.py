"""WSGI entry point without a coverage hook, for the example config's way of
recording (COVERAGE_PROCESS_START + a start-up hook: coverage.py starts
itself in every Python process, see docker/example-app and
docs/coverage-setup.md).  TESTAPP_READY_DIR as in project/wsgi.py.
"""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

if os.environ.get("TESTAPP_READY_DIR"):
    open(os.path.join(os.environ["TESTAPP_READY_DIR"],
                      "ready.%d" % os.getpid()), "w").close()
