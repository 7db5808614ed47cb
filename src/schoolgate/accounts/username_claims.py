"""Username claims: what the district's username source says each account's username should be, who already
holds a username, and taking usernames at provisioning time (refusing those already held).

Kept apart from `username_policy` so that `lifecycle.provision` can use it without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from schoolgate.accounts.models import Account
from schoolgate.accounts.moves import Selection, select_accounts
from schoolgate.accounts.usernames import InvalidUsername, clean_username, username_key
from schoolgate.core import sql
from schoolgate.core.models import District
from schoolgate.people.models import Person

SOURCE_FIELD = {"sis": "sis_username", "email": "email"}


@dataclass(frozen=True)
class Claim:
    account_id: int
    code: str
    current_key: str | None
    wanted: str  # the SIS value, cleaned; "" when the SIS gives none


def claims_of(district: District, account_ids_sql: str, params: tuple = ()) -> list[Claim]:
    """What the district's source says each of these accounts' username should be."""
    field = SOURCE_FIELD[district.username_source]
    account, person = sql.table(Account), sql.table(Person)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT a.id, p.sis_code, a.username_key, p.{field} FROM {account} a
                JOIN {person} p ON p.id = a.person_id
                WHERE a.district_id = %s AND a.id IN ({account_ids_sql}) ORDER BY a.id""",
            [district.pk, *params],
        )
        rows = cursor.fetchall()
    claims = []
    for account_id, code, key, raw in rows:
        try:
            wanted = clean_username(raw) if raw and raw.strip() else ""
        except InvalidUsername:
            wanted = ""
        claims.append(Claim(account_id, code, key, wanted))
    return claims


def holders(district: District, keys: set[str]) -> dict[str, tuple[int, str]]:
    """username key → (account id, person code) of the accounts holding those keys."""
    found: dict[str, tuple[int, str]] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), 1000):
        rows = Account.objects.filter(district=district, username_key__in=ordered[start : start + 1000])
        for key, pk, code in rows.values_list("username_key", "pk", "person__sis_code"):
            found[key] = (pk, code)
    return found


def assign_for_provisioning(district: District, selection: Selection) -> tuple[Selection, dict[int, str]]:
    """Give each selected account its username from the district's source before its welcome goes out.

    Returns the selection narrowed to the accounts that got one, and why each other account was refused.
    """
    claims = claims_of(district, f"SELECT sel.account_id FROM ({selection.sql}) sel", selection.params)
    taken = holders(district, {username_key(c.wanted) for c in claims if c.wanted})
    refused: dict[int, str] = {}
    assigned: list[tuple[str, str, int]] = []
    source = "SIS username" if district.username_source == "sis" else "e-mail address"
    for claim in claims:
        if not claim.wanted:
            refused[claim.account_id] = f"the SIS gives no {source} to use as the username"
            continue
        key = username_key(claim.wanted)
        holder = taken.get(key)
        if holder and holder[0] != claim.account_id:
            refused[claim.account_id] = f"the username {claim.wanted!r} is already used by {holder[1]}"
            continue
        taken[key] = (claim.account_id, claim.code)
        assigned.append((claim.wanted, key, claim.account_id))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {sql.table(Account)} SET username = %s, username_key = %s WHERE id = %s", assigned
        )
    return select_accounts(account_id for _, _, account_id in assigned), refused
