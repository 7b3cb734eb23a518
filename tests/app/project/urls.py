from django.urls import path

from demo.views import compute, echo, greenlets, home, items, sidejob, slow, whoami

urlpatterns = [
    path("", home.view),
    path("items/", items.view),
    path("items/<int:item_id>/", items.detail),
    path("echo/", echo.view),
    path("compute/<int:n>/", compute.view),
    path("whoami/", whoami.view),
    path("slow/", slow.view),
    path("greenlets/", greenlets.view),
    path("sidejob/", sidejob.view),
]
