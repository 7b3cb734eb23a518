from django.http import Http404, JsonResponse

ITEMS = {1: "apple", 2: "banana", 3: "cherry"}


def view(request):
    names = sorted(ITEMS.values())
    if request.GET.get("reverse"):
        names.reverse()  # mark: items-reverse
    return JsonResponse({"items": names})


def detail(request, item_id):
    try:
        name = ITEMS[item_id]
    except KeyError:
        raise Http404("no such item")
    return JsonResponse({"id": item_id, "name": name})
