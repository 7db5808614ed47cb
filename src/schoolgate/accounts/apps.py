"""App configuration for `accounts`."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "schoolgate.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Job kinds register themselves with the job runner when imported (a registry, not business logic).
        from schoolgate.accounts import bulk_jobs, generation  # noqa: F401
