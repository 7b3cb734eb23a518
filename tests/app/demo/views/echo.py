from django.http import HttpResponse


def view(request):
    text = request.GET.get("text", "")
    if len(text) > 100:
        text = text[:100]
    if request.GET.get("upper"):
        text = text.upper()  # mark: echo-upper
    return HttpResponse(text + "\n", content_type="text/plain")
