import os

from django.http import JsonResponse


def view(request):
    # Tests use the worker pid to check that every worker served requests
    # and therefore must have written a non-empty coverage file.
    return JsonResponse({"pid": os.getpid(), "ppid": os.getppid()})  # mark: whoami
