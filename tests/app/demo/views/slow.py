"""/slow/?s=N: answer after N seconds (at most 120), for tests of what a
request longer than gunicorn's --graceful-timeout costs. With
TESTAPP_READY_DIR set, the worker first creates D/slow.<pid>, so a test
knows the request has started and which worker holds it."""
import os
import time

from django.http import HttpResponse


def view(request):
    try:
        seconds = min(float(request.GET.get("s", "0")), 120.0)
    except ValueError:
        seconds = 0.0
    d = os.environ.get("TESTAPP_READY_DIR")
    if d:
        open(os.path.join(d, "slow.%d" % os.getpid()), "w").close()
    if seconds > 0:
        time.sleep(seconds)
    return HttpResponse("slept %g\n" % seconds)
