"""Console login and the district chooser."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from schoolgate.console.access import admin_view
from schoolgate.core.models import District


class LoginView(auth_views.LoginView):
    template_name = "console/login.html"
    redirect_authenticated_user = True


@admin_view
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "console/home.html", {"districts": District.objects.order_by("name")})
