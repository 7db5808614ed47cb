"""When the portal login behind an authorization request happened: the ID token's `auth_time` and `max_age`.

OpenID Connect wants `auth_time` to be when the person actually logged in (Core 1.0 §2), and a request with
`max_age` to get a fresh login when that was longer ago (§3.1.2.1; 0 means "always"). The login is the
portal's own session (`portal.session`), and its time is read from that session:

- `portal_login_at` (epoch seconds), written by the portal's `log_in`: the exact time;
- `oidc_login_asked`, written here whenever this provider sends the person to log in (no portal login, an
  old one under `max_age`, or `prompt=login`). The portal login is removed from the session in the same step,
  so any login found there afterwards happened later: the moment of asking is a lower bound.

The later of the two is used. A lower bound can only make a login look *older* than it was — a client that
checks `auth_time` may ask again, but never accepts a stale login as fresh. With neither, the time is unknown:
`max_age` then always asks for a login, and the ID token carries no `auth_time` (`validators`) rather than
the token's issue time passed off as one.

A request the person was sent to log in for is answered by that login, whatever its `max_age` (otherwise
`max_age=0` would send them back forever). Only the first authorization request after the login can be that
answer, so a stale page reopened later is checked afresh.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

from django.http import HttpRequest

from schoolgate.portal.session import ACCOUNT, LOGIN_AT, VERSION

ASKED = "oidc_login_asked"  # {"at": epoch seconds, "request": fingerprint of the request, until answered}


def _fingerprint(request: HttpRequest) -> str:
    # The toolkit sends prompt=login back without its `prompt` (and re-encodes the query), so the request is
    # recognised by its other parameters, read as the toolkit reads them.
    params = dict(parse_qsl(request.META.get("QUERY_STRING", "")))
    params.pop("prompt", None)
    return hashlib.sha256(urlencode(sorted(params.items())).encode()).hexdigest()


def ask_for_login(request: HttpRequest) -> None:
    """End this session's portal login (not the session: it may hold a console login too) before the person
    is sent to log in for `request`, and remember when and for which request."""
    for key in (ACCOUNT, VERSION, LOGIN_AT):
        request.session.pop(key, None)
    request.session[ASKED] = {"at": int(time.time()), "request": _fingerprint(request)}


def login_time(request: HttpRequest) -> datetime | None:
    """When this session's portal login happened, at the latest known bound; None when nothing is known."""
    asked = request.session.get(ASKED) or {}
    known = [
        int(value)  # whole seconds, rounded down: still no later than the login
        for value in (request.session.get(LOGIN_AT), asked.get("at"))
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    return datetime.fromtimestamp(max(known), tz=UTC) if known else None


def answers_ask(request: HttpRequest) -> bool:
    """True if `request` is the one the person was just sent to log in for. Asked once per login: the first
    authorization request after it uses the answer up, whichever request it is."""
    asked = request.session.get(ASKED)
    if not asked or "request" not in asked:
        return False
    request.session[ASKED] = {"at": asked.get("at")}  # the lower bound stays valid for this session
    return asked["request"] == _fingerprint(request)


def older_than(request: HttpRequest, max_age: int) -> bool:
    """True unless this session's portal login is known to be at most `max_age` seconds old."""
    at = login_time(request)
    return at is None or time.time() - at.timestamp() > max_age
