"""App configuration for `core`: counts console logins for the metrics; adds Schoolgate's SQL functions to
every new SQLite connection."""

from typing import Any

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "schoolgate.core"
    label = "core"
    verbose_name = "Districts and audit"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed
        from django.db.backends.signals import connection_created

        from schoolgate.core.sql import register_sqlite_functions

        connection_created.connect(register_sqlite_functions, dispatch_uid="schoolgate.core.sqlite_functions")

        user_logged_in.connect(_console_login, dispatch_uid="schoolgate.core.console_login")
        user_login_failed.connect(_console_login_failed, dispatch_uid="schoolgate.core.console_login_failed")


def _console_login(sender: Any, **kwargs: Any) -> None:
    from schoolgate.core.observability import count_login

    count_login("console", "success")


def _console_login_failed(sender: Any, **kwargs: Any) -> None:
    from schoolgate.core.observability import count_login

    count_login("console", "refused")
