"""Where usernames come from, and what happens when two accounts would share one.

A district picks its source (`District.username_source`): chosen by the person at activation (the default),
the SIS username, or the e-mail address. Whatever the path — provisioning from the SIS, a sync that changes
the SIS value, an admin's edit, the person's own choice — a username already held in the district (compared
after NFKC + casefold, across schools and kinds) is refused. A sync that finds two accounts claiming one
username flags the newer account `ready_to_revoke/duplicate_username`; the older keeps it.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account, AccountState, RevokeReason
from schoolgate.accounts.moves import select_accounts
from schoolgate.accounts.username_claims import SOURCE_FIELD, Claim, claims_of, holders
from schoolgate.accounts.usernames import InvalidUsername, check_own_address, clean_username, username_key
from schoolgate.core import audit, sql
from schoolgate.core.models import District

HOLDS_CREDENTIALS = (AccountState.INVITED, AccountState.ACTIVE, AccountState.READY_TO_REVOKE)


def follow_sis(
    district: District, scope: str | None, *, actor: str, run_id: int | None = None
) -> tuple[dict[str, int], dict[int, str]]:
    """After a sync: logins whose SIS username (or e-mail) changed take the new value when it is free; when
    another account holds it, the newer of the two is flagged `duplicate_username`; a flagged login whose
    clash has gone is restored.

    Returns the counts and the accounts flagged, each with the state it was in (the sync's guard counts them
    and its diff lists them)."""
    counts = {"changed": 0, "clashes": 0, "resolved": 0}
    if district.username_source not in SOURCE_FIELD:
        return counts, {}
    account = sql.table(Account)
    states = ", ".join(f"'{s}'" for s in HOLDS_CREDENTIALS)
    in_scope = f"a.person_id IN ({scope})" if scope else "1 = 1"  # no scope: everyone
    claims = claims_of(
        district,
        f"""SELECT a.id FROM {account} a WHERE a.state IN ({states})
            AND ({in_scope} OR a.reason = '{RevokeReason.DUPLICATE_USERNAME}')""",
    )
    taken = holders(district, {username_key(c.wanted) for c in claims if c.wanted})
    accounts = {a.pk: a for a in Account.objects.filter(pk__in=[c.account_id for c in claims])}
    # A rename frees the name it leaves, which another claim of this run may want: claims that found their
    # name taken are tried again until a pass renames nobody, so that one sync settles what it can.
    waiting = [claim for claim in claims if claim.wanted]
    blocked: list[tuple[Claim, int]] = []
    while waiting:
        blocked, renamed = [], False
        for claim in waiting:
            key = username_key(claim.wanted)
            holder = taken.get(key)
            if holder is not None and holder[0] != claim.account_id:
                blocked.append((claim, holder[0]))
                continue
            if claim.current_key != key:
                _rename(accounts[claim.account_id], claim.wanted, actor, run_id)
                if taken.get(claim.current_key, (None,))[0] == claim.account_id:
                    del taken[claim.current_key]
                taken[key] = (claim.account_id, claim.code)
                counts["changed"] += 1
                renamed = True
            if accounts[claim.account_id].reason == RevokeReason.DUPLICATE_USERNAME:
                lifecycle.restore(district, select_accounts([claim.account_id]), actor=actor, run_id=run_id)
                counts["resolved"] += 1
        waiting = [claim for claim, _ in blocked] if renamed else []
    newer = {_newer(claim.account_id, holder) for claim, holder in blocked}
    # One query, not one per clash: those already flagged stay as they are.
    to_flag = dict(
        Account.objects.filter(pk__in=newer)
        .exclude(reason=RevokeReason.DUPLICATE_USERNAME)
        .values_list("pk", "state")
    )
    if to_flag:
        lifecycle.flag_for_revocation(
            district,
            select_accounts(set(to_flag), reason=RevokeReason.DUPLICATE_USERNAME),
            actor=actor,
            run_id=run_id,
        )
        counts["clashes"] = len(to_flag)
    return counts, to_flag


def _newer(claimant: int, holder: int) -> int:
    """Which of two accounts claiming one username is flagged: the newer one. The holder keeps the name unless
    it was created strictly later than the claimant (accounts created by one sync tie: the holder keeps it)."""
    created = dict(Account.objects.filter(pk__in=[claimant, holder]).values_list("pk", "created_at"))
    return holder if created[holder] > created[claimant] else claimant


def _rename(account: Account, username: str, actor: str, run_id: int | None) -> None:
    before = {"state": account.state, "reason": account.reason, "username": account.username}
    account.username, account.username_key = username, username_key(username)
    account.save(update_fields=["username", "username_key"])
    audit.record(
        account.district, actor, "account.username_changed", target_type="account", target_id=account.pk,
        target_label=account.person.sis_code, before=before,
        after={"state": account.state, "reason": account.reason, "username": username}, run_id=run_id,
    )  # fmt: skip


def change_username(district: District, code: str, new: str, *, actor: str) -> Account:
    """An admin sets a login's username; refused if another account in the district holds it."""
    name = clean_username(new)
    key = username_key(name)
    with transaction.atomic():
        try:
            account = (
                Account.objects.select_for_update()
                .select_related("person")
                .get(district=district, person__sis_code=code)
            )
        except Account.DoesNotExist:
            raise InvalidUsername(f"{code} has no account in this district") from None
        if account.state not in HOLDS_CREDENTIALS:
            raise InvalidUsername(f"{code}'s account is {account.state}: there is no login to rename")
        check_own_address(name, account.person.email)
        holder = holders(district, {key}).get(key)
        if holder and holder[0] != account.pk:
            raise InvalidUsername(f"the username {name!r} is already used by {holder[1]}")
        try:
            with transaction.atomic():
                _rename(account, name, actor, None)
        except IntegrityError:
            raise InvalidUsername(f"the username {name!r} is already used in this district") from None
        if account.reason == RevokeReason.DUPLICATE_USERNAME:
            lifecycle.restore(district, select_accounts([account.pk]), actor=actor)
        account.refresh_from_db()
        account.state_changed_at = account.state_changed_at or timezone.now()
    return account
