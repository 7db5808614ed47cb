"""App configuration for `api`."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "schoolgate.api"
    label = "api"
    verbose_name = "REST API"
