"""App configuration for `console`."""

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "schoolgate.console"
    label = "console"
    verbose_name = "Admin console"
