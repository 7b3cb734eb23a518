from django.http import JsonResponse


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b  # mark: compute-loop
    return a


def view(request, n):
    if n > 1000:
        return JsonResponse({"error": "n too large"}, status=400)
    return JsonResponse({"n": n, "fib": str(fib(n))})  # mark: compute-return
