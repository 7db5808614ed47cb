"""The session store's fixed-SQL reads behave as Django's database store: a live session loads, an expired
or unknown one is empty and its key forgotten (so a fresh key is issued), and the collision check sees keys."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from schoolgate.core.sessions import SessionStore


def test_the_engine_is_in_use():
    assert settings.SESSION_ENGINE == "schoolgate.core.sessions"


def test_a_saved_session_loads_and_exists(db):
    store = SessionStore()
    store["portal_account"] = 42
    store.save()
    again = SessionStore(store.session_key)
    assert again["portal_account"] == 42
    assert again.exists(store.session_key) and not again.exists("x" * 32)


def test_an_expired_session_is_empty_and_its_key_forgotten(db):
    store = SessionStore()
    store["portal_account"] = 42
    store.save()
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    expired = SessionStore(store.session_key)
    assert expired.load() == {} and expired.session_key is None


def test_an_unknown_or_malformed_key_loads_nothing(db):
    assert SessionStore("a" * 32).load() == {}
    assert SessionStore("short").load() == {}
    assert SessionStore(None).load() == {}
