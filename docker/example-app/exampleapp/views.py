"""Views of the example app.

The end-to-end test requests some of them and checks, in the Cobertura XML
that `covship pull --combine` writes, that their lines were hit and that the
lines of the others were not. Keep each view's body on its own lines."""
import os
import time

from django.http import HttpResponse, JsonResponse


def index(request):
    return HttpResponse("covship example app\n")


def health(request):
    return HttpResponse("ok\n")


def item(request, n):
    if n % 2 == 0:
        kind = "even"
    else:
        kind = "odd"
    return JsonResponse({"item": n, "kind": kind, "pid": os.getpid()})


def hello(request, name):
    greeting = "hello, " + name
    return HttpResponse(greeting + "\n")


def report(request):
    # Never requested by the tests: its lines must show as misses.
    total = 0
    for i in range(10):
        total += i
    return JsonResponse({"total": total})


def admin_only(request):
    # Never requested by the tests either.
    return HttpResponse("no\n", status=403)


def slow(request, seconds):
    # A long request: shows why gunicorn's graceful timeout, covship-shim's
    # grace and the container's stop timeout must nest (the worker finishes
    # it before it exits and saves its coverage).
    time.sleep(min(seconds, 60))
    return HttpResponse("slept\n")
