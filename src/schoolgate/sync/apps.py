"""App configuration for `sync`."""

from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "schoolgate.sync"
    label = "sync"
    verbose_name = "SIS sync"
