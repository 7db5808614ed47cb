"""Tokens do not outlive access: when an account stops being active, or its credentials change, every
grant and token of its OIDC identity is deleted in the same transaction as the change.

`accounts_changed` subscribers (see `schoolgate.core.changes`) run inside the transaction of every account
change with SQL selecting the changed accounts. This one is set-based: one DELETE per token table whose
subquery joins that selection with the identities whose account is no longer live. A district where nobody
has ever authorized an app pays one indexed `LIMIT 1` probe and nothing else.

The validator checks the same condition on every use of a token (`bridge.is_live`), so a change that reaches
the database by some other path still ends the tokens at once; this subscriber makes them disappear too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from oauth2_provider.models import (
    get_access_token_model,
    get_device_grant_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from schoolgate.accounts.models import Account, AccountState
from schoolgate.core import sql
from schoolgate.oidc.models import OidcIdentity


def _token_tables() -> list[str]:
    # Refresh tokens first: they point at access tokens, which point at ID tokens. The FKs are checked at
    # commit, but deleting children first keeps every intermediate state consistent as well.
    models = (
        get_refresh_token_model(),
        get_access_token_model(),
        get_id_token_model(),
        get_grant_model(),
        get_device_grant_model(),
    )
    return [sql.table(model) for model in models]


def delete_tokens_of(users_sql: str, params: Sequence[Any]) -> None:
    """Delete every grant and token of the users `users_sql` selects (column `user_id`)."""
    with connection.cursor() as cursor:
        for table in _token_tables():
            cursor.execute(f"DELETE FROM {table} WHERE user_id IN ({users_sql})", list(params))


def revoke_for_changed_accounts(district_id: int, account_sql: str, params: Sequence[Any]) -> None:
    """`changes` subscriber: end the tokens of the changed accounts that are no longer active, or whose
    credentials moved on since their tokens were minted."""
    identity = sql.table(OidcIdentity)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {identity} WHERE district_id = %s LIMIT 1", [district_id])
        if cursor.fetchone() is None:
            return  # nobody in this district uses an OIDC app: the common case costs one index probe
    account = sql.table(Account)
    dead = f"""SELECT i.user_id FROM {identity} i
               LEFT JOIN {account} a ON a.id = i.account_id AND a.district_id = i.district_id
               WHERE i.district_id = %s AND i.account_id IN ({account_sql})
                 AND (a.id IS NULL OR a.state <> %s OR a.credentials_version <> i.credentials_version)"""
    delete_tokens_of(dead, [district_id, *params, AccountState.ACTIVE.value])
