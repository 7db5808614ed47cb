"""Accounts: the filtered, cursor-paged list, and acting on logins — provision (send the welcome), revoke,
resend the welcome, unlock, transfer to a successor record.

Every action goes through the domain function the CLI and console use (`accounts.lifecycle`, `accounts.actions`,
`accounts.transfer`), which checks the move is legal and writes the audit event, with the token as the actor.
An illegal move for one account is 409; the bulk forms skip accounts not ready and report them.
"""

from __future__ import annotations

from django.db.models import prefetch_related_objects
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router

from schoolgate.accounts import lifecycle
from schoolgate.accounts.actions import ActionResult, provision_accounts, revoke_accounts
from schoolgate.accounts.models import Account
from schoolgate.accounts.queries import InvalidCursor
from schoolgate.accounts.transfer import transfer_login
from schoolgate.admins import roles
from schoolgate.api.auth import needs, people_in_scope, require_people
from schoolgate.api.errors import ERROR_STATUSES, ApiError, ErrorOut, not_found
from schoolgate.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageInfo
from schoolgate.api.schemas import (
    AccountRow,
    AccountsPage,
    ActionOut,
    CodesIn,
    Kind,
    Reason,
    RevokeIn,
    State,
    TransferIn,
    TransferOut,
)
from schoolgate.console.queries import Filters, account_page
from schoolgate.core.models import School

router = Router(tags=["accounts"])
ANSWERS = {ERROR_STATUSES: ErrorOut}


def _row(account: Account, now: object) -> AccountRow:
    person = account.person
    return AccountRow(
        person=person.sis_code, kind=person.kind, name=person.display_name, state=account.state,
        reason=account.reason or None, successor=account.successor.sis_code if account.successor else None,
        username=account.username, locked=bool(account.locked_until and account.locked_until > now),
    )  # fmt: skip


def _scope(request: HttpRequest) -> object:
    return people_in_scope(request) if request.access.school_limited else None


@router.get("/accounts", response={200: AccountsPage, **ANSWERS}, **needs(roles.VIEW_ACCOUNTS))
def list_accounts(
    request: HttpRequest,
    state: State | None = None,
    kind: Kind | None = None,
    reason: Reason | None = None,
    school: str | None = Query(None, max_length=255, description="SIS code of a school"),
    q: str | None = Query(
        None, max_length=320, description="a SIS code, username, e-mail, or start of a family name"
    ),
    cursor: str | None = Query(None, max_length=2000),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> AccountsPage:
    """Accounts in name order (family, given, code), filtered, one page at a time: the console's keyset query."""
    if school and (
        (request.access.school_limited and school not in request.access.school_codes)
        or not School.objects.filter(district=request.district, sis_code=school).exists()
    ):
        raise not_found("school", school)  # an object named in a query is checked like one in the path
    filters = Filters(kind=kind, state=state, reason=reason, school=school, q=(q or "").strip())
    # The console's cursor is signed too; the API only passes it through (it never names a district).
    try:
        found = account_page(request.district, filters, cursor, limit, within=_scope(request))
    except InvalidCursor:  # the same answer as every other listing's cursor (api/pagination.py)
        raise ApiError(400, "invalid_cursor", "cursor in query is not a cursor this listing issued: start again "
                       "without it", {"field": "cursor"}) from None  # fmt: skip
    prefetch_related_objects(found.rows, "successor")  # the page's rows come with their person already
    now = timezone.now()
    return AccountsPage(items=[_row(a, now) for a in found.rows],
                        page=PageInfo(next=found.next_cursor, limit=limit))  # fmt: skip


def _account(request: HttpRequest, code: str) -> Account:
    account = (
        Account.objects.filter(district=request.district, person__sis_code=code)
        .select_related("person", "successor", "district")
        .first()
    )
    if account is None:
        raise not_found("account", code)
    return account


@router.get("/accounts/{code}", response={200: AccountRow, **ANSWERS}, **needs(roles.VIEW_ACCOUNTS))
def get_account(request: HttpRequest, code: str) -> AccountRow:
    """The login of the person with this SIS code (404 when the person has none)."""
    return _row(_account(request, code), timezone.now())


def _bulk(request: HttpRequest, payload: CodesIn) -> list[str] | None:
    if payload.all_ready == bool(payload.codes):
        raise ApiError(422, "invalid_input", "codes in body: give either a list of codes or all_ready: true",
                       {"field": "codes"})  # fmt: skip
    if payload.all_ready and request.access.school_limited:
        raise ApiError(403, "forbidden", "all_ready acts on the whole district: a school-limited level must "
                       "name the codes", {"field": "all_ready"})  # fmt: skip
    require_people(request, *payload.codes)
    return payload.codes or None


def _result(outcome: ActionResult, verb: str) -> dict:
    return outcome.as_dict(verb)


@router.post("/account-actions/provision", response={200: ActionOut, **ANSWERS}, **needs(roles.ACT_ACCOUNTS))
def provision_many(request: HttpRequest, payload: CodesIn) -> dict:
    """Send welcomes to the given people, or to everyone ready_to_provision (`all_ready`)."""
    codes = _bulk(request, payload)
    outcome = provision_accounts(
        request.district, codes=codes, all_ready=payload.all_ready, actor=request.actor
    )
    return _result(outcome, "provisioned")


@router.post("/account-actions/revoke", response={200: ActionOut, **ANSWERS}, **needs(roles.ACT_ACCOUNTS))
def revoke_many(request: HttpRequest, payload: CodesIn) -> dict:
    """Revoke the given people's logins, or every login ready_to_revoke (`all_ready`)."""
    codes = _bulk(request, payload)
    outcome = revoke_accounts(request.district, codes=codes, all_ready=payload.all_ready, actor=request.actor)
    return _result(outcome, "revoked")


@router.post("/accounts/{code}/provision", response={200: AccountRow, **ANSWERS}, **needs(roles.ACT_ACCOUNTS))
def provision_one(request: HttpRequest, code: str) -> AccountRow:
    """Send the welcome e-mail: ready_to_provision → invited (409 from any other state)."""
    lifecycle.provision_account(_account(request, code), actor=request.actor)
    return get_account(request, code)


@router.post("/accounts/{code}/revoke", response={200: AccountRow, **ANSWERS}, **needs(roles.ACT_ACCOUNTS))
def revoke_one(request: HttpRequest, code: str, payload: RevokeIn | None = None) -> AccountRow:
    """Remove the login: credentials cleared, every session ended (409 when it holds none)."""
    reason = payload.reason if payload else None
    lifecycle.revoke_account(_account(request, code), actor=request.actor, reason=reason or "")
    return get_account(request, code)


@router.post("/accounts/{code}/resend-welcome", response={200: AccountRow, **ANSWERS},
             **needs(roles.ACT_ACCOUNTS))  # fmt: skip
def resend_welcome(request: HttpRequest, code: str) -> AccountRow:
    """A fresh welcome link for an invited account; the previous link stops working (409 if not invited)."""
    lifecycle.resend_welcome(_account(request, code), actor=request.actor)
    return get_account(request, code)


@router.post("/accounts/{code}/unlock", response={200: AccountRow, **ANSWERS}, **needs(roles.ACT_ACCOUNTS))
def unlock(request: HttpRequest, code: str) -> AccountRow:
    """Clear a lockout left by repeated wrong passwords (nothing to do is not an error)."""
    lifecycle.unlock_account(_account(request, code), actor=request.actor)
    return get_account(request, code)


@router.post("/accounts/{code}/transfer", response={200: TransferOut, **ANSWERS}, **needs(roles.ACT_ACCOUNTS))
def transfer(request: HttpRequest, code: str, payload: TransferIn) -> TransferOut:
    """Carry this person's login over to the record that succeeds it (username, password, activation,
    overrides), in one audited transaction; the old login is revoked as superseded."""
    require_people(request, payload.to)
    done = transfer_login(
        request.district, code, payload.to, actor=request.actor, same_person=payload.same_person
    )
    return TransferOut(from_person=done.old, to_person=done.new, username=done.username, state=done.state,
                       overrides_moved=done.overrides_moved)  # fmt: skip
