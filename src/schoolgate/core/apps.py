"""App configuration for `core`."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "schoolgate.core"
    label = "core"
    verbose_name = "Districts and audit"
