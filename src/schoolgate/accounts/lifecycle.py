"""The account lifecycle: states, the legal moves between them, and one function per transition.

Every entry point (sync, CLI, web console, API, SCIM, bulk actions) changes an account's state only through
these functions. Each checks that the move is legal, makes it, and writes its audit event in the same
transaction. Bulk and single forms are the same code: a single account is a selection of one.

    (eligible)            provision             activate
   ──────────▶ ready_to_provision ──▶ invited ──────────▶ active
                   ▲     │ withdraw      │  ▲                │ ▲
          reinstate│     ▼               ▼  │ restore        ▼ │ restore
                revoked ◀──── revoke ──── ready_to_revoke (+ reason) ◀─ flag_for_revocation
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from schoolgate.accounts.models import Account, AccountState, Invitation, LinkPurpose, RevokeReason
from schoolgate.accounts.moves import MoveResult, Selection, audit_json, move, select_accounts
from schoolgate.accounts.username_claims import assign_for_provisioning
from schoolgate.accounts.usernames import InvalidUsername, check_own_address, clean_username, username_key
from schoolgate.accounts.welcome import send_welcomes
from schoolgate.core import audit, sql
from schoolgate.core.models import AuditEvent, District
from schoolgate.people.models import Person

S = AccountState

# Legal source states of each transition. `list` creates the account row, so it has no source state.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "list": ((), S.READY_TO_PROVISION),
    "withdraw": ((S.READY_TO_PROVISION,), "(unlisted)"),
    "provision": ((S.READY_TO_PROVISION,), S.INVITED),
    "activate": ((S.INVITED,), S.ACTIVE),
    "flag_for_revocation": ((S.INVITED, S.ACTIVE, S.READY_TO_REVOKE), S.READY_TO_REVOKE),
    "restore": ((S.READY_TO_REVOKE,), "invited or active"),
    "revoke": ((S.INVITED, S.ACTIVE, S.READY_TO_REVOKE), S.REVOKED),
    "reinstate": ((S.REVOKED,), S.READY_TO_PROVISION),
}

INVITATION_DAYS = settings.SCHOOLGATE_INVITATION_DAYS


class IllegalTransition(ValueError):
    """The account is not in a state this transition may start from."""


def sources(transition: str) -> tuple[str, ...]:
    return TRANSITIONS[transition][0]


def list_for_provisioning(
    district: District, person_sql: str, params: tuple = (), *, actor: str, run_id: int | None = None
) -> int:
    """Create `ready_to_provision` accounts for eligible people without one.

    `person_sql` yields a `person_id` column of people in this district.
    """
    now = timezone.now()
    stamp = sql.db_datetime(now)
    account, person, auditt = sql.table(Account), sql.table(Person), sql.table(AuditEvent)
    with transaction.atomic(), connection.cursor() as cursor:
        sql.create_temp_table(cursor, "sg_new", "person_id BIGINT PRIMARY KEY")
        cursor.execute(
            f"""INSERT INTO sg_new SELECT sel.person_id FROM ({person_sql}) sel
                WHERE NOT EXISTS (SELECT 1 FROM {account} a WHERE a.person_id = sel.person_id)""",
            params,
        )
        cursor.execute(
            f"""INSERT INTO {account} (district_id, person_id, state, reason, username, username_key,
                    password_hash, must_change_password, credentials_version, created_at, state_changed_at)
                SELECT %s, n.person_id, %s, '', NULL, NULL, '', {sql.sql_false()}, 0, %s, %s FROM sg_new n""",
            [district.pk, S.READY_TO_PROVISION, stamp, stamp],
        )
        count = cursor.rowcount
        if count > 5_000:
            sql.analyze(cursor, "sg_new", account)
        cursor.execute(
            f"""INSERT INTO {auditt}
                    (district_id, at, actor, action, target_type, target_id, target_label, run_id, before, after)
                SELECT %s, %s, %s, 'account.listed', 'account', a.id, p.sis_code, %s, NULL, {audit_json("a")}
                FROM sg_new n JOIN {account} a ON a.person_id = n.person_id JOIN {person} p ON p.id = n.person_id""",
            [district.pk, stamp, actor, run_id],
        )
        sql.drop_temp_table(cursor, "sg_new")
    return count


def withdraw(district: District, selection: Selection, *, actor: str, run_id: int | None = None) -> int:
    """The person is no longer eligible and never received credentials: stop listing them.

    An account that was revoked before and then reinstated goes back to `revoked`, keeping its history; one
    that never held credentials is removed (its audit trail stays).
    """
    now = timezone.now()
    stamp = sql.db_datetime(now)
    account, person, auditt = sql.table(Account), sql.table(Person), sql.table(AuditEvent)
    with transaction.atomic():
        with connection.cursor() as cursor:
            sql.create_temp_table(cursor, "sg_withdraw", "account_id BIGINT PRIMARY KEY")
            cursor.execute(
                f"""INSERT INTO sg_withdraw SELECT a.id FROM {account} a JOIN ({selection.sql}) sel
                    ON sel.account_id = a.id WHERE a.district_id = %s AND a.state = %s""",
                [*selection.params, district.pk, S.READY_TO_PROVISION],
            )
        # Two steps rather than one UPDATE: a never-credentialed row is deleted, which an UPDATE cannot do.
        back = move(
            district,
            action="account.withdrawn",
            sources=sources("withdraw"),
            selection=Selection(
                f"""SELECT w.account_id, NULL AS reason, CAST(NULL AS BIGINT) AS successor_id FROM sg_withdraw w
                    JOIN {account} a ON a.id = w.account_id WHERE a.revoked_at IS NOT NULL"""
            ),
            set_sql=f"state = '{S.REVOKED}'",
            actor=actor,
            now=now,
            run_id=run_id,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {auditt}
                        (district_id, at, actor, action, target_type, target_id, target_label, run_id, before, after)
                    SELECT %s, %s, %s, 'account.withdrawn', 'account', a.id, p.sis_code, %s, {audit_json("a")}, NULL
                    FROM sg_withdraw w JOIN {account} a ON a.id = w.account_id
                    JOIN {person} p ON p.id = a.person_id
                    WHERE a.state = %s""",
                [district.pk, stamp, actor, run_id, S.READY_TO_PROVISION],
            )
            cursor.execute(
                f"DELETE FROM {account} WHERE state = %s AND id IN (SELECT account_id FROM sg_withdraw)",
                [S.READY_TO_PROVISION],
            )
            removed = cursor.rowcount
            sql.drop_temp_table(cursor, "sg_withdraw")
    return back.count + removed


def provision(
    district: District,
    selection: Selection,
    *,
    actor: str,
    run_id: int | None = None,
    want_ids: bool = False,
    assign_usernames: bool = True,
    send_welcome: bool = True,
) -> MoveResult:
    """Send a welcome: `ready_to_provision` → `invited`, with a new invitation (valid INVITATION_DAYS).

    A generation job passes `assign_usernames=False` (its group decides usernames) and, for groups whose
    passwords are generated, `send_welcome=False`.
    """
    now = timezone.now()
    invitation = sql.table(Invitation)
    with transaction.atomic():
        refused: dict[int, str] = {}
        if assign_usernames and district.username_source != "chosen":  # from the SIS: take it now, if free
            selection, refused = assign_for_provisioning(district, selection)
        result = move(
            district,
            action="account.provisioned",
            sources=sources("provision"),
            selection=selection,
            set_sql=f"state = '{S.INVITED}', invited_at = %s",
            set_params=[sql.db_datetime(now)],
            actor=actor,
            now=now,
            run_id=run_id,
            want_ids=True,
            then=[
                (
                    f"""INSERT INTO {invitation} (district_id, account_id, created_at, expires_at)
                        SELECT %s, m.account_id, %s, %s FROM sg_move m""",
                    [
                        district.pk,
                        sql.db_datetime(now),
                        sql.db_datetime(now + timedelta(days=INVITATION_DAYS)),
                    ],
                )
            ],
        )
    result.refused = refused
    if send_welcome:
        result.notes = send_welcomes(district, result.moved)
    if not want_ids:
        result.moved = []
    return result


def flag_for_revocation(
    district: District, selection: Selection, *, actor: str, run_id: int | None = None
) -> MoveResult:
    """Credentials held but no longer deserved: → `ready_to_revoke` with the selection's reason (and
    successor). Also used to update the reason of an account already waiting for revocation."""
    with transaction.atomic():
        return move(
            district,
            action="account.flagged_for_revocation",
            sources=sources("flag_for_revocation"),
            selection=selection,
            set_sql=f"state = '{S.READY_TO_REVOKE}', reason = m.new_reason, successor_id = m.successor_id",
            actor=actor,
            now=timezone.now(),
            run_id=run_id,
        )


def restore(district: District, selection: Selection, *, actor: str, run_id: int | None = None) -> MoveResult:
    """Eligible again before anyone revoked it: back to `active` (or `invited` if never activated)."""
    with transaction.atomic():
        return move(
            district,
            action="account.restored",
            sources=sources("restore"),
            selection=selection,
            set_sql=(
                f"state = CASE WHEN activated_at IS NULL THEN '{S.INVITED}' ELSE '{S.ACTIVE}' END,"
                " reason = '', successor_id = NULL"
            ),
            actor=actor,
            now=timezone.now(),
            run_id=run_id,
        )


def revoke(
    district: District,
    selection: Selection,
    *,
    actor: str,
    run_id: int | None = None,
    reason: str = "",
    want_ids: bool = False,
) -> MoveResult:
    """Remove the login: username and password cleared, open welcome links closed, every session and
    token minted under the old credentials dead (credentials_version moves on). The reason it was waiting
    for revocation is kept as history; `reason` is recorded for a direct revocation of a usable account."""
    now = timezone.now()
    stamp = sql.db_datetime(now)
    invitation = sql.table(Invitation)
    if reason and reason not in RevokeReason.values:
        raise ValueError(f"unknown reason {reason!r}")
    with transaction.atomic():
        return move(
            district,
            action="account.revoked",
            sources=sources("revoke"),
            selection=selection,
            set_sql=(
                f"state = '{S.REVOKED}', username = NULL, username_key = NULL, password_hash = '',"
                " credentials_version = credentials_version + 1, revoked_at = %s,"
                " reason = CASE WHEN m.old_reason = '' THEN %s ELSE m.old_reason END"
            ),
            set_params=[stamp, reason],
            actor=actor,
            now=now,
            run_id=run_id,
            want_ids=want_ids,
            then=[
                (
                    f"""UPDATE {invitation} SET withdrawn_at = %s
                        WHERE account_id IN (SELECT account_id FROM sg_move)
                          AND used_at IS NULL AND withdrawn_at IS NULL""",
                    [stamp],
                )
            ],
        )


def reinstate(
    district: District, selection: Selection, *, actor: str, run_id: int | None = None
) -> MoveResult:
    """A revoked person is eligible again: list them as `ready_to_provision` (no credentials come back)."""
    with transaction.atomic():
        return move(
            district,
            action="account.reinstated",
            sources=sources("reinstate"),
            selection=selection,
            set_sql=f"state = '{S.READY_TO_PROVISION}', reason = '', successor_id = NULL",
            actor=actor,
            now=timezone.now(),
            run_id=run_id,
        )


def _single(account: Account, transition: str) -> Selection:
    if account.state not in sources(transition):
        raise IllegalTransition(
            f"cannot {transition.replace('_', ' ')} {account.person.sis_code}: the account is {account.state}"
        )
    return select_accounts([account.pk])


def provision_account(account: Account, *, actor: str) -> None:
    """Single-account form of `provision`."""
    provision(account.district, _single(account, "provision"), actor=actor)


def revoke_account(account: Account, *, actor: str, reason: str = "") -> None:
    """Single-account form of `revoke`."""
    revoke(account.district, _single(account, "revoke"), actor=actor, reason=reason)


def activate_account(account: Account, *, username: str, password: str, actor: str) -> Account:
    """The invited person sets their username and password: `invited` → `active`.

    The username must be free in the whole district (case- and look-alike-insensitive); the database
    constraint is the final word when two people race for the same name.
    """
    name = clean_username(username)
    with transaction.atomic():
        locked = Account.objects.select_for_update().select_related("person").get(pk=account.pk)
        if locked.state not in sources("activate"):
            raise IllegalTransition(
                f"cannot activate {locked.person.sis_code}: the account is {locked.state}"
            )
        check_own_address(name, locked.person.email)
        key = username_key(name)
        taken = Account.objects.filter(district_id=locked.district_id, username_key=key).exclude(pk=locked.pk)
        if taken.exists():
            raise InvalidUsername(f"the username {name!r} is already in use in this district")
        before = {"state": locked.state, "reason": locked.reason, "username": locked.username}
        now = timezone.now()
        locked.username, locked.username_key = name, key
        locked.password_hash = make_password(password)
        locked.state, locked.activated_at, locked.state_changed_at = S.ACTIVE, now, now
        locked.credentials_version += 1
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise InvalidUsername(f"the username {name!r} is already in use in this district") from None
        Invitation.objects.filter(
            account=locked, purpose=LinkPurpose.WELCOME, used_at__isnull=True, withdrawn_at__isnull=True
        ).update(used_at=now)
        audit.record(
            locked.district,
            actor,
            "account.activated",
            target_type="account",
            target_id=locked.pk,
            target_label=locked.person.sis_code,
            before=before,
            after={"state": locked.state, "reason": locked.reason, "username": locked.username},
        )
    return locked


def accounts_for_codes(district: District, codes: Iterable[str]) -> tuple[dict[str, Account], list[str]]:
    """The accounts of the given SIS codes in this district (in the order given), and the codes that have none."""
    wanted = list(dict.fromkeys(codes))
    found = {
        a.person.sis_code: a
        for a in Account.objects.filter(district=district, person__sis_code__in=wanted).select_related(
            "person"
        )
    }
    in_order = {code: found[code] for code in wanted if code in found}  # the order the admin gave them
    return in_order, [code for code in wanted if code not in found]


def resend_welcome(account: Account, *, actor: str) -> Invitation:
    """A fresh welcome link for an invited account; the previous link stops working. The state stays
    `invited`, but the resend is audited like a transition."""
    with transaction.atomic():
        locked = Account.objects.select_for_update().select_related("person").get(pk=account.pk)
        if locked.state != S.INVITED:
            raise IllegalTransition(
                f"cannot resend a welcome to {locked.person.sis_code}: the account is {locked.state}"
            )
        now = timezone.now()
        closed = Invitation.objects.filter(
            account=locked, purpose=LinkPurpose.WELCOME, used_at__isnull=True, withdrawn_at__isnull=True
        ).update(withdrawn_at=now)
        invitation = Invitation.objects.create(
            district=locked.district,
            account=locked,
            created_at=now,
            expires_at=now + timedelta(days=INVITATION_DAYS),
        )
        audit.record(
            locked.district, actor, "account.welcome_resent", target_type="account", target_id=locked.pk,
            target_label=locked.person.sis_code, before={"open_links": closed},
            after={"open_links": 1, "expires_at": invitation.expires_at.isoformat()},
        )  # fmt: skip
        send_welcomes(locked.district, [locked.pk])
    return invitation


def unlock_account(account: Account, *, actor: str) -> None:
    """Clear a lockout left by repeated failed logins."""
    with transaction.atomic():
        locked = Account.objects.select_for_update().select_related("person").get(pk=account.pk)
        if locked.locked_until is None and locked.failed_logins == 0:
            return
        before = {"locked_until": locked.locked_until.isoformat() if locked.locked_until else None,
                  "failed_logins": locked.failed_logins}  # fmt: skip
        locked.locked_until, locked.failed_logins = None, 0
        locked.save(update_fields=["locked_until", "failed_logins"])
        audit.record(
            locked.district, actor, "account.unlocked", target_type="account", target_id=locked.pk,
            target_label=locked.person.sis_code, before=before, after={"locked_until": None, "failed_logins": 0},
        )  # fmt: skip
