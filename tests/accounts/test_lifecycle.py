"""The account lifecycle: every transition moves only from legal states, writes its audit event in the same
transaction, and reconciliation is idempotent."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account, AccountState, Invitation, RevokeReason
from schoolgate.accounts.moves import select_accounts
from schoolgate.accounts.reconcile import reconcile
from schoolgate.accounts.usernames import InvalidUsername
from schoolgate.core.models import AuditEvent
from schoolgate.people import evaluation
from schoolgate.people.models import PersonKind
from tests.factories import family, make_person

ACTOR = "test:admin"


def sync_rules_and_reconcile(district):
    evaluation.evaluate_links(district)
    evaluation.evaluate_people(district)
    return reconcile(district, actor=ACTOR)


def events(account, action=None):
    qs = AuditEvent.objects.filter(district=account.district, target_type="account", target_id=account.pk)
    return list(qs.filter(action=action) if action else qs)


@pytest.fixture
def household(district):
    kids, parents = family(district, children=2, parents=1)
    sync_rules_and_reconcile(district)
    return kids, parents[0]


def account_of(person):
    return Account.objects.get(person=person)


def test_eligible_people_are_listed_once_with_an_audit_event(district, household):
    kids, parent = household
    account = account_of(parent)
    assert account.state == AccountState.READY_TO_PROVISION
    assert [e.after["state"] for e in events(account, "account.listed")] == ["ready_to_provision"]
    for kid in kids:
        assert account_of(kid).state == AccountState.READY_TO_PROVISION

    audit_rows = AuditEvent.objects.count()
    assert sync_rules_and_reconcile(district) == dict.fromkeys(
        ["list", "withdraw", "flag", "restore", "reinstate"], 0
    )
    assert AuditEvent.objects.count() == audit_rows, "re-running changes nothing and writes no audit rows"


def test_relatives_are_not_eligible(district):
    kid = make_person(district, PersonKind.STUDENT)
    aunt = make_person(district, PersonKind.CONTACT, roles="relative")
    from tests.factories import make_link

    link = make_link(kid, aunt, relationship="relative")
    sync_rules_and_reconcile(district)
    link.refresh_from_db()
    assert (link.portal_flag, link.flag_rule) == (False, "relatives-no-access")
    assert not Account.objects.filter(person=aunt).exists()


def test_provision_creates_an_invitation_and_is_audited(district, household):
    _, parent = household
    account = account_of(parent)
    lifecycle.provision_account(account, actor=ACTOR)
    account.refresh_from_db()
    assert account.state == AccountState.INVITED and account.invited_at is not None
    invitation = Invitation.objects.get(account=account)
    assert invitation.expires_at > invitation.created_at and invitation.used_at is None
    (event,) = events(account, "account.provisioned")
    assert (event.actor, event.before["state"], event.after["state"]) == (
        ACTOR,
        "ready_to_provision",
        "invited",
    )
    assert event.target_label == parent.sis_code

    with pytest.raises(lifecycle.IllegalTransition):
        lifecycle.provision_account(account, actor=ACTOR)


def test_activation_sets_credentials_and_usernames_are_unique_ignoring_case_and_lookalikes(
    district, household
):
    kids, parent = household
    first, second = account_of(parent), account_of(kids[0])
    for account in (first, second):
        lifecycle.provision_account(account, actor=ACTOR)
    lifecycle.activate_account(first, username="Anna.Smith", password="a long passphrase", actor=ACTOR)
    first.refresh_from_db()
    assert first.state == AccountState.ACTIVE and first.password_hash.startswith("argon2$argon2id$")
    assert "m=19456,t=2,p=1" in first.password_hash
    assert Invitation.objects.get(account=first).used_at is not None
    (event,) = events(first, "account.activated")
    assert event.after == {"state": "active", "reason": "", "username": "Anna.Smith"}

    for clash in ("anna.smith", "ANNA.SMITH", "Ａｎｎａ.Ｓｍｉｔｈ"):  # noqa: RUF001 - full-width letters normalise (NFKC)
        with pytest.raises(InvalidUsername):
            lifecycle.activate_account(second, username=clash, password="another passphrase", actor=ACTOR)
    second.refresh_from_db()
    assert second.state == AccountState.INVITED


def test_database_refuses_duplicate_username_keys_and_revoked_credentials(district, household):
    kids, parent = household
    a, b = account_of(parent), account_of(kids[0])
    Account.objects.filter(pk=a.pk).update(username="x", username_key="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=b.pk).update(username="X", username_key="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=a.pk).update(state=AccountState.REVOKED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=b.pk).update(state=AccountState.READY_TO_REVOKE, reason="")


def activate(account, username):
    lifecycle.provision_account(account, actor=ACTOR)
    lifecycle.activate_account(account, username=username, password="a long passphrase", actor=ACTOR)
    account.refresh_from_db()
    return account


def test_leaving_student_flags_parent_then_revoke_removes_credentials(district, household):
    kids, parent = household
    account = activate(account_of(parent), "parent1")
    for kid in kids:
        kid.in_sis = False
        kid.save()
    moves = sync_rules_and_reconcile(district)
    assert moves["flag"] == 1  # the parent; the students never held credentials
    account.refresh_from_db()
    assert (account.state, account.reason) == (AccountState.READY_TO_REVOKE, RevokeReason.NO_STUDENTS)
    assert not Account.objects.filter(person__in=kids).exists(), (
        "students who left before being provisioned are withdrawn, not kept as ready_to_provision"
    )
    (flagged,) = events(account, "account.flagged_for_revocation")
    assert flagged.after["reason"] == "no_students"

    version = account.credentials_version
    lifecycle.revoke_account(account, actor=ACTOR)
    account.refresh_from_db()
    assert account.state == AccountState.REVOKED
    assert account.username is None and account.password_hash == ""
    assert account.credentials_version == version + 1, "sessions minted under the old credentials die"
    assert account.reason == RevokeReason.NO_STUDENTS, "the reason stays as history"
    (revoked,) = events(account, "account.revoked")
    assert revoked.before["username"] == "parent1" and revoked.after["username"] is None
    with pytest.raises(lifecycle.IllegalTransition):
        lifecycle.revoke_account(account, actor=ACTOR)


def test_restore_when_eligible_again_before_revocation(district, household):
    _, parent = household
    account = activate(account_of(parent), "p")
    parent.enabled = False
    parent.save()
    sync_rules_and_reconcile(district)
    account.refresh_from_db()
    assert (account.state, account.reason) == ("ready_to_revoke", "flag_removed")
    parent.enabled = True
    parent.save()
    assert sync_rules_and_reconcile(district)["restore"] == 1
    account.refresh_from_db()
    assert (account.state, account.reason) == ("active", "")
    assert events(account, "account.restored")[0].before["reason"] == "flag_removed"


def test_revoked_person_eligible_again_is_reinstated_then_withdrawn_back_to_revoked(district, household):
    _, parent = household
    account = activate(account_of(parent), "p")
    lifecycle.revoke_account(account, actor=ACTOR)  # an admin revokes a still-eligible parent
    assert sync_rules_and_reconcile(district)["reinstate"] == 1
    account.refresh_from_db()
    assert account.state == AccountState.READY_TO_PROVISION
    parent.in_sis = False
    parent.save()
    sync_rules_and_reconcile(district)
    account.refresh_from_db()
    assert account.state == AccountState.REVOKED, "a row with revocation history is not deleted"


def test_reason_codes(district):
    kid = make_person(district, PersonKind.STUDENT)
    lonely = make_person(district, PersonKind.CONTACT)  # a username typed onto an unlinked record
    flagged_off = make_person(district, PersonKind.CONTACT, roles="relative")
    from tests.factories import make_link

    make_link(kid, flagged_off, relationship="relative")
    staff = make_person(district, PersonKind.STAFF)
    accounts = {}
    for person in (lonely, flagged_off, staff):
        accounts[person.pk] = Account.objects.create(
            district=district, person=person, state="active", username=person.sis_code,
            username_key=person.sis_code, created_at="2026-01-01T00:00Z", state_changed_at="2026-01-01T00:00Z",
            activated_at="2026-01-01T00:00Z",
        )  # fmt: skip
    staff.in_sis = False
    staff.save()
    sync_rules_and_reconcile(district)
    got = {
        a.person_id: (a.state, a.reason)
        for a in Account.objects.filter(pk__in=[a.pk for a in accounts.values()])
    }
    assert got[lonely.pk] == ("ready_to_revoke", "not_linked")
    assert got[flagged_off.pk] == ("ready_to_revoke", "flag_removed")
    assert got[staff.pk] == ("ready_to_revoke", "left_sis")


def test_bulk_revoke_is_one_set_based_move_with_one_audit_row_each(district):
    parents = []
    for _ in range(30):
        _, adults = family(district, children=1, parents=1)
        parents.extend(adults)
    sync_rules_and_reconcile(district)
    ids = list(Account.objects.filter(person__in=parents).values_list("pk", flat=True))
    result = lifecycle.provision(district, select_accounts(ids), actor=ACTOR, want_ids=True)
    assert result.count == 30 and sorted(result.moved) == sorted(ids)
    result = lifecycle.revoke(district, select_accounts(ids), actor=ACTOR)
    assert result.count == 30
    assert AuditEvent.objects.filter(action="account.revoked", target_id__in=ids).count() == 30
    assert Invitation.objects.filter(account_id__in=ids, withdrawn_at__isnull=True).count() == 0
