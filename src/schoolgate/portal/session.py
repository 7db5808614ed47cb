"""Portal sessions: which account is logged in, valid only while its credentials have not changed.

The session stores the account id and its `credentials_version`. Revoking the login, resetting or changing
the password moves the version on, so every session (on every device) ends at the next request — no
"up to 24 hours".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache, wraps
from typing import Any

from django.db import connection
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from schoolgate.accounts.models import Account, AccountState
from schoolgate.core import sql
from schoolgate.core.models import District
from schoolgate.people.models import Person

ACCOUNT, VERSION, LOGIN_AT = "portal_account", "portal_cv", "portal_login_at"


def log_in(request: HttpRequest, account: Account) -> None:
    if request.session.session_key is not None:
        request.session.cycle_key()  # a new session id at login: no fixation of one set before
    # (A visitor without a session gets a new one when the response is sent: one INSERT, not two writes.)
    request.session[ACCOUNT] = account.pk
    request.session[VERSION] = account.credentials_version
    request.session[LOGIN_AT] = int(
        time.time()
    )  # when the password was checked: OIDC's auth_time and max_age


def log_out(request: HttpRequest) -> None:
    request.session.flush()


def current_account(request: HttpRequest) -> Account | None:
    account_id = request.session.get(ACCOUNT)
    if account_id is None:
        return None
    account = _load_account(account_id)
    if (
        account is None
        or account.state != AccountState.ACTIVE  # revoked or waiting for revocation: out at once
        or account.credentials_version != request.session.get(VERSION)
    ):
        request.session.flush()
        return None
    return account


@cache
def _account_query() -> tuple[str, list[tuple[type[Model], list[str], list[Any]]]]:
    """One SELECT of an account with its person and district and, per model, its column names and the
    converters the ORM would apply to each value (SQLite hands back naive datetimes and JSON as text)."""
    parts = []
    for model in (Account, Person, District):
        fields = model._meta.concrete_fields
        columns = [field.get_col(model._meta.db_table) for field in fields]
        converters = [
            connection.ops.get_db_converters(col) + col.get_db_converters(connection) for col in columns
        ]
        parts.append(
            (model, [field.attname for field in fields], list(zip(columns, converters, strict=True)))
        )
    select = ", ".join(
        f"{alias}.{connection.ops.quote_name(field.column)}"
        for alias, model in zip("apd", (Account, Person, District), strict=True)
        for field in model._meta.concrete_fields
    )
    statement = (
        f"SELECT {select} FROM {sql.table(Account)} a JOIN {sql.table(Person)} p ON p.id = a.person_id"
        f" JOIN {sql.table(District)} d ON d.id = a.district_id WHERE a.id = %s"
    )
    return statement, parts


def _load_account(account_id: int) -> Account | None:
    """The logged-in account, its person and district, read on every portal request by one fixed statement
    (building the equivalent queryset cost more than running it: BENCHMARKS.md, login — portal page)."""
    statement, parts = _account_query()
    with connection.cursor() as cursor:
        cursor.execute(statement, [account_id])
        row = cursor.fetchone()
    if row is None:
        return None
    objects, start = [], 0
    for model, names, conversions in parts:
        values = []
        for value, (col, converters) in zip(row[start : start + len(names)], conversions, strict=True):
            for convert in converters:
                value = convert(value, col, connection)
            values.append(value)
        objects.append(model.from_db(connection.alias, names, values))
        start += len(names)
    account, account.person, account.district = objects
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
