"""App configuration for `portal`."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "schoolgate.portal"
    label = "portal"
    verbose_name = "Community portal"
