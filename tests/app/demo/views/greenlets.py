"""/greenlets/: yields to the gevent hub between its lines.

Under gunicorn's gevent worker each gevent.sleep(0) switches greenlets.
coverage.py documents that its thread-based tracer may not follow such a
switch without `concurrency = gevent`, and lose the lines after it; that
loss was not reproduced here (gevent 22.10, coverage.py 6.5), see
docs/coverage-setup.md. tests/shim/test_coverage_gevent.py looks for the
`# mark:` lines.
gevent is imported inside the view: the other workers never load it.
"""
from django.http import JsonResponse


def view(request):
    import gevent

    steps = ["before"]  # mark: before-switch
    gevent.sleep(0)
    steps.append("after-1")  # mark: after-switch-1
    gevent.sleep(0)
    steps.append("after-2")  # mark: after-switch-2
    return JsonResponse({"steps": steps})
