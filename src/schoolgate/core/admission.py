"""Admission control for password hashing: past capacity, refuse at once instead of queueing into time-outs.

Every password check costs one argon2id computation (about 30 ms of one core, by design). When the first day
of school brings more logins than the cores can hash, letting them all wait makes every login slow and the
oldest ones time out. Instead each process lets a fixed number of hashes run at once (its share of the cores),
lets a few more wait (a short queue), and answers anything beyond that — or anything that waited too long —
with 503 and Retry-After at once, so the clients' retries spread the peak out and the logins that are
admitted stay fast: at most (queue + 1) hashes of waiting.

    with hashing_slot():        # raises Overloaded when the queue is full or after SCHOOLGATE_HASH_WAIT_MS
        check_password(...)

`Overloaded` becomes a 503 anywhere in the site through `OverloadMiddleware`.

The hashing slots alone are not enough: under a real peak the queue forms *before* the password check — in
the web server's threads, behind the Python work of the logins already admitted — where no slot can see it.
So the login views are also wrapped in `admitted`, which counts the logins in progress in this process and
answers 503 at the door, before any database work, once there are more than the slots plus the short queue.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None


class Overloaded(Exception):
    """No hashing capacity within the allowed wait: the caller should answer 503 and let the client retry."""


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    with _lock:
        if _slots is None:  # created on first use, in the worker process (after gunicorn forks)
            _slots = threading.BoundedSemaphore(_slots_per_process())
        return _slots


_waiting = 0  # requests in this process waiting for a slot


@contextmanager
def hashing_slot() -> Iterator[None]:
    """Hold one of this process's hashing slots while hashing; Overloaded at once when the queue for slots is
    full (a short queue keeps the admitted logins fast), or if no slot frees up within the wait."""
    global _waiting
    slots = _semaphore()
    if not slots.acquire(blocking=False):
        with _lock:
            if _waiting >= settings.SCHOOLGATE_HASH_QUEUE:
                raise Overloaded("too many password checks waiting")
            _waiting += 1
        try:
            acquired = slots.acquire(timeout=settings.SCHOOLGATE_HASH_WAIT_MS / 1000)
        finally:
            with _lock:
                _waiting -= 1
        if not acquired:
            raise Overloaded("no password check finished in time")
    try:
        yield
    finally:
        slots.release()


_in_progress = 0  # password-checking requests (logins) being handled by this process


def _slots_per_process() -> int:
    return max(1, settings.SCHOOLGATE_HASH_SLOTS or (os.cpu_count() or 1))


def admitted(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse a POST to this (password-checking) view at once when this process already handles as many as it
    can hash plus its short queue; GETs pass."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        global _in_progress
        if request.method != "POST":
            return view(request, *args, **kwargs)
        with _lock:
            if _in_progress >= _slots_per_process() + settings.SCHOOLGATE_HASH_QUEUE:
                return overloaded_response()
            _in_progress += 1
        try:
            return view(request, *args, **kwargs)
        finally:
            with _lock:
                _in_progress -= 1

    return wrapper


def overloaded_response() -> HttpResponse:
    response = HttpResponse(
        "Many people are logging in right now. Please try again in a moment.\n",
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = "1"
    return response


class OverloadMiddleware:
    """Turn `Overloaded` into 503 Service Unavailable with Retry-After, wherever it was raised."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, Overloaded):
            return None
        return overloaded_response()
