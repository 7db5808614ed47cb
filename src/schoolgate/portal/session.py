"""Portal sessions: which account is logged in, valid only while its credentials have not changed.

The session stores the account id and its `credentials_version`. Revoking the login, resetting or changing
the password moves the version on, so every session (on every device) ends at the next request — no
"up to 24 hours".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from schoolgate.accounts.models import Account, AccountState

ACCOUNT, VERSION = "portal_account", "portal_cv"


def log_in(request: HttpRequest, account: Account) -> None:
    request.session.cycle_key()  # a new session id at login: no fixation
    request.session[ACCOUNT] = account.pk
    request.session[VERSION] = account.credentials_version


def log_out(request: HttpRequest) -> None:
    request.session.flush()


def current_account(request: HttpRequest) -> Account | None:
    account_id = request.session.get(ACCOUNT)
    if account_id is None:
        return None
    account = Account.objects.select_related("person", "district").filter(pk=account_id).first()
    if (
        account is None
        or account.state != AccountState.ACTIVE  # revoked or waiting for revocation: out at once
        or account.credentials_version != request.session.get(VERSION)
    ):
        request.session.flush()
        return None
    return account


def login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        account = current_account(request)
        if account is None:
            return redirect("portal:home")
        request.portal_account = account  # type: ignore[attr-defined]
        if account.must_change_password and request.resolver_match.url_name != "password":
            return redirect("portal:password")  # the group's "must change at next login" policy
        return view(request, *args, **kwargs)

    return wrapper
