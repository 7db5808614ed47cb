"""Past hashing capacity a login is refused at once with 503 and Retry-After, never left to time out; with
capacity it proceeds as usual."""

from __future__ import annotations

import threading
import time

from django.contrib.auth.hashers import get_hasher, identify_hasher

from schoolgate.accounts import authentication
from schoolgate.core import admission
from schoolgate.core.hashers import OwaspArgon2PasswordHasher


def test_a_login_without_hashing_capacity_is_refused_quickly(client, district, monkeypatch, settings):
    settings.SCHOOLGATE_HASH_WAIT_MS = 200
    authentication._dummy_hash()  # made already, so the login below only verifies: verifying takes a slot too
    monkeypatch.setattr(admission, "_slots", threading.BoundedSemaphore(1))
    with admission.hashing_slot():  # another login is hashing and holds the only slot
        started = time.monotonic()
        refused = client.post(f"/portal/{district.slug}/login/", {"identifier": "x", "password": "y" * 12})
        waited = time.monotonic() - started
    assert refused.status_code == 503 and refused["Retry-After"] == "1"
    assert waited < 5, "answered after the short wait, not queued"
    admitted = client.post(f"/portal/{district.slug}/login/", {"identifier": "x", "password": "y" * 12})
    assert admitted.status_code == 400, "with a free slot the login is checked (and here refused as wrong)"


def test_the_slot_is_released_when_hashing_fails(monkeypatch):
    monkeypatch.setattr(admission, "_slots", threading.BoundedSemaphore(1))
    try:
        with admission.hashing_slot():
            raise ValueError("argon2 failed")
    except ValueError:
        pass
    with admission.hashing_slot():  # would raise Overloaded if the slot had leaked
        pass


def test_logins_beyond_what_the_process_can_hash_are_refused_at_the_door(
    client, district, monkeypatch, settings
):
    settings.SCHOOLGATE_HASH_SLOTS, settings.SCHOOLGATE_HASH_QUEUE = 1, 2
    monkeypatch.setattr(admission, "_in_progress", 3)  # one hashing and two waiting already, in this process
    refused = client.post(f"/portal/{district.slug}/login/", {"identifier": "x", "password": "y" * 12})
    assert refused.status_code == 503 and refused["Retry-After"] == "1"
    assert client.get(f"/portal/{district.slug}/login/").status_code == 200, "the page itself still loads"
    assert client.post("/console/login/", {"username": "a", "password": "b"}).status_code == 503
    monkeypatch.setattr(admission, "_in_progress", 2)
    assert (
        client.post(f"/portal/{district.slug}/login/", {"identifier": "x", "password": "y" * 12}).status_code
        == 400
    )


def test_every_argon2_hash_is_verified_by_the_hasher_that_takes_a_slot():
    """Django chooses a verifier by the hash's algorithm name; a second "argon2" hasher listed after ours
    would verify every login without a hashing slot (this happened: Django's own Argon2PasswordHasher)."""
    assert isinstance(get_hasher("argon2"), OwaspArgon2PasswordHasher)
    older = "argon2$argon2id$v=19$m=102400,t=2,p=8$" + "c2FsdHNhbHRzYWx0"  # Django's old default parameters
    assert isinstance(identify_hasher(older + "$x"), OwaspArgon2PasswordHasher)
