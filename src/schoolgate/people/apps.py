"""App configuration for `people`."""

from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "schoolgate.people"
    label = "people"
    verbose_name = "People and links"
