from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
    path("health/", views.health),
    path("login/", views.login),
    path("admin/", views.admin),
    path("api/v1/reports/<int:report_id>/", views.report),
    path("boom/", views.boom),
    path("slow/", views.slow),
    path("stuck/", views.stuck),
]
