"""App configuration for `admins`: remembers each console login's session (forgotten at logout), so that
removing the admin can end it."""

from datetime import timedelta
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.utils import timezone


class AdminsConfig(AppConfig):
    name = "schoolgate.admins"
    label = "admins"
    verbose_name = "Admins and access"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        user_logged_in.connect(_remember_session, dispatch_uid="schoolgate.admins.remember_session")
        user_logged_out.connect(_forget_session, dispatch_uid="schoolgate.admins.forget_session")


def _remember_session(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from schoolgate.admins.models import AdminSession

    session = getattr(request, "session", None)
    if session is None:
        return
    if session.session_key is None:
        session.save()
    # Sessions older than their maximum age have expired anyway: forget them while we are here.
    stale = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    AdminSession.objects.filter(user=user, started_at__lt=stale).delete()
    AdminSession.objects.get_or_create(session_key=session.session_key, defaults={"user": user})


def _forget_session(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from schoolgate.admins.models import AdminSession

    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        AdminSession.objects.filter(session_key=key).delete()
