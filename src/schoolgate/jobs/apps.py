"""App configuration for `jobs`."""

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "schoolgate.jobs"
    label = "jobs"
    verbose_name = "Jobs"
