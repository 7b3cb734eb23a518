"""/sidejob/?seconds=S: starts a multiprocessing child (a side job) and
returns at once.

The child is a daemon Process forked from the worker, so it inherits
gunicorn's worker SIGTERM handler (which only sets a flag): the
`terminate()` that multiprocessing's atexit handler sends it at the worker's
exit does not stop it, and the worker waits in that handler until the job
ends or gunicorn SIGKILLs the worker after --graceful-timeout.  Whether the
worker's coverage was saved before that depends on `concurrency` (see
docs/coverage-setup.md); the `# mark:` lines are what the tests look for.
"""
import multiprocessing
import os
import time

from django.http import JsonResponse

# Keep the Process objects: a dropped one is still joined at exit.
_JOBS = []


def _job(seconds):
    end = time.monotonic() + seconds  # mark: job-start
    while time.monotonic() < end:
        time.sleep(0.05)
    return seconds  # mark: job-end


def view(request):
    try:
        seconds = float(request.GET.get("seconds", "1"))
    except ValueError:
        return JsonResponse({"error": "seconds must be a number"}, status=400)
    p = multiprocessing.Process(target=_job, args=(seconds,), daemon=True)
    p.start()
    _JOBS.append(p)  # mark: job-started
    return JsonResponse({"pid": os.getpid(), "job_pid": p.pid})
