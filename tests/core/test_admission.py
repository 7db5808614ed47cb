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


def test_machine_slots_are_shared_by_processes_and_freed_when_one_dies(tmp_path):
    """Two processes share the machine's slots; a process killed while holding one gives it back (the
    kernel drops its file locks), so a crashed web worker cannot shrink the machine's hashing capacity."""
    import os
    import signal
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_ALL_SLOTS, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        here = admission.MachineSlots(tmp_path, 2)
        assert not here.acquire(timeout=0.05), "both slots are held by the other process"
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        assert here.acquire(timeout=2), "the killed process's slot came back"
        assert here.acquire(blocking=False), "and so did the second one"
        assert not here.acquire(blocking=False), "two slots, both now ours"
    finally:
        holder.kill()


def test_machine_slots_exclude_threads_of_one_process(tmp_path):
    slots = admission.MachineSlots(tmp_path, 1)
    assert slots.acquire(blocking=False)
    other: list[bool] = []
    thread = threading.Thread(target=lambda: other.append(slots.acquire(timeout=0.05)))
    thread.start()
    thread.join()
    assert other == [False]
    slots.release()
    thread = threading.Thread(target=lambda: other.append(slots.acquire(blocking=False)))
    thread.start()
    thread.join()
    assert other == [False, True]


_HOLD_ALL_SLOTS = """
import sys, time
from pathlib import Path
from schoolgate.core.admission import MachineSlots
slots = MachineSlots(Path(sys.argv[1]), 2)
assert slots.acquire(blocking=False) and slots.acquire(blocking=False)
print("holding", flush=True)
time.sleep(60)
"""
