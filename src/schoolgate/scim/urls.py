"""SCIM server URLs (mounted at /scim/v2/): one view per district routes every SCIM path (see `views`)."""

from django.urls import path

from schoolgate.scim import views

urlpatterns = [
    path("<slug:slug>", views.endpoint),
    path("<slug:slug>/", views.endpoint),
    path("<slug:slug>/<path:rest>", views.endpoint),
]
