"""/greenlets/: yields to the gevent hub between its lines.

Under gunicorn's gevent worker each gevent.sleep(0) switches greenlets.
coverage.py's thread-based tracer does not follow the switch, so without
`concurrency = gevent` the lines after a switch are not recorded (the tests
in tests/shim/test_coverage_setup.py look for the `# mark:` lines).
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
