from django.http import HttpResponse


def view(request):
    if request.GET.get("fail"):
        return HttpResponse("failing on purpose\n", status=500)
    return HttpResponse("covship test app\n")
