"""App configuration for `scim`."""

from django.apps import AppConfig


class ScimConfig(AppConfig):
    name = "schoolgate.scim"
    label = "scim"
    verbose_name = "SCIM server"
