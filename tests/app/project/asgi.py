"""ASGI entry point without a coverage hook, for uvicorn's gunicorn worker
(`-k uvicorn.workers.UvicornWorker`) recording the example config's way
(COVERAGE_PROCESS_START, see project/wsgi_process.py).  Django runs the
app's sync views in asgiref's thread executor; those threads start after
coverage.py, which traces them (its default `concurrency = thread`).
TESTAPP_READY_DIR as in project/wsgi.py.
"""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()

if os.environ.get("TESTAPP_READY_DIR"):
    open(os.path.join(os.environ["TESTAPP_READY_DIR"],
                      "ready.%d" % os.getpid()), "w").close()
