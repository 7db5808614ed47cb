"""App configuration for `mail`."""

from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "schoolgate.mail"
    label = "mail"
    verbose_name = "Mail"
