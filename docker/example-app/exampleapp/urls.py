from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
    path("health", views.health),
    path("items/<int:n>", views.item),
    path("hello/<str:name>", views.hello),
    path("report", views.report),
    path("admin-only", views.admin_only),
    path("slow/<int:seconds>", views.slow),
]
