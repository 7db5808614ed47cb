"""SCIM push, end to end against scim2-server (an independent SCIM implementation) on loopback: accounts
provisioned here appear downstream with their SIS code, kind and visible students; a revocation switches
the downstream user off; a failing target is retried with back-off and gives up visibly; revocations are
pushed ahead of a provisioning backlog; a district without targets records nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from schoolgate.core.models import AuditEvent
from schoolgate.integrations import push
from schoolgate.integrations.configuration import add_target, target_status
from schoolgate.integrations.models import PushPriority, PushStatus, ScimPush, ScimTarget
from schoolgate.integrations.payload import EXTENSION
from schoolgate.integrations.tasks import drain
from tests.integrations.conftest import TOKEN, sync_families


def provisioned(cli, district, tmp_path, n: int = 3) -> None:
    sync_families(cli, district, tmp_path, n)
    assert cli("provision", district.slug, "--all", "--json").code == 0


def test_provision_activate_and_revoke_reach_downstream(cli, district, tmp_path, scim_server):
    """Given a district with a SCIM target, when accounts are provisioned, activated and one is revoked,
    then downstream holds each user with its current state, and the revoked one inactive."""
    cli("integrations", "scim", "add", district.slug, "app", scim_server.base_url, "--token", TOKEN, "--json")
    provisioned(cli, district, tmp_path)
    drain()

    users = {u["externalId"]: u for u in scim_server.users()}
    assert {"p0", "p1", "p2", "k0", "k1", "k2"} <= set(users)
    parent = users["p0"]
    assert parent["active"] is True
    assert parent["emails"][0]["value"] == "p0@example.org"
    assert parent["name"] == {"givenName": "Parent0", "familyName": "Family0", "formatted": "Parent0 Family0"}
    assert parent[EXTENSION] == {"kind": "contact", "students": ["k0"]}

    account = Account.objects.get(district=district, person__sis_code="p0")
    lifecycle.activate_account(account, username="priya.p0", password="plum tree harbour 42", actor="test")
    drain()
    assert scim_server.user("p0")["userName"] == "priya.p0", "the chosen username replaced the SIS code"

    lifecycle.revoke_account(Account.objects.get(pk=account.pk), actor="admin:test")
    row = ScimPush.objects.get(district=district, account_id=account.pk)
    assert row.status == PushStatus.PENDING and row.priority == PushPriority.REVOKE
    drain()
    assert scim_server.user("p0")["active"] is False
    assert scim_server.user("p1")["active"] is True
    assert len(scim_server.users()) == len(users), "revoked, not re-created"
    row.refresh_from_db()
    assert row.status == PushStatus.DONE and row.dirty_since is None and row.downstream_id
    assert AuditEvent.objects.filter(district=district, action="integration.scim_added").exists()


def test_repeated_changes_coalesce_into_one_push(cli, district, tmp_path, scim_server):
    provisioned(cli, district, tmp_path, n=1)
    add_target(district, "app", scim_server.base_url, TOKEN, actor="test")
    account = Account.objects.get(district=district, person__sis_code="p0")
    for _ in range(5):
        lifecycle.resend_welcome(Account.objects.get(pk=account.pk), actor="test")
    row = ScimPush.objects.get(district=district, account_id=account.pk)
    assert ScimPush.objects.filter(district=district, account_id=account.pk).count() == 1
    assert row.version > 1 and row.status == PushStatus.PENDING
    report = drain()
    assert report["pushed"] == 2, "one push per account (p0 and k0), whatever the number of changes"
    before = scim_server.user("p0")["meta"]["version"]
    lifecycle.resend_welcome(Account.objects.get(pk=account.pk), actor="test")
    drain()
    assert scim_server.user("p0")["meta"]["version"] == before, "an unchanged representation is not re-sent"


def test_a_district_without_targets_records_nothing_in_one_query(cli, district, tmp_path):
    provisioned(cli, district, tmp_path, n=1)
    account = Account.objects.get(district=district, person__sis_code="p0")
    from schoolgate.integrations.outbox import record_changes

    with CaptureQueriesContext(connection) as queries:
        record_changes(district.pk, "SELECT %s AS account_id", [account.pk])
    assert len(queries) == 1
    assert not ScimPush.objects.exists()


def test_a_failing_target_is_retried_then_gives_up_visibly(cli, district, tmp_path, scripted_server):
    """503, then a refused connection, then 201: delivered on the third attempt; always 503: failed."""
    provisioned(cli, district, tmp_path, n=1)
    scripted_server.script = [503, 503, 201, 201]
    target = add_target(district, "flaky", scripted_server.url + "/scim/v2", TOKEN, actor="test")
    drain()
    rows = ScimPush.objects.filter(target=target)
    assert set(rows.values_list("status", flat=True)) == {PushStatus.PENDING}
    assert all(r.attempts == 1 and r.next_attempt_at > timezone.now() for r in rows)
    assert "answered 503" in rows.first().last_error
    assert push.backoff(1) == timedelta(seconds=2) and push.backoff(2) == timedelta(seconds=4)
    assert push.backoff(40) == push.MAX_BACKOFF

    rows.update(next_attempt_at=timezone.now())  # the back-off has passed
    drain()
    assert set(rows.values_list("status", flat=True)) == {PushStatus.DONE}
    assert {r.downstream_id for r in rows} <= {"u3", "u4"}
    received = scripted_server.received
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in received)
    assert [r.method for r in received] == ["POST"] * 4

    scripted_server.default = 503
    lifecycle.revoke_account(Account.objects.get(district=district, person__sis_code="p0"), actor="test")
    row = ScimPush.objects.get(target=target, account_id=Account.objects.get(person__sis_code="p0").pk)
    for _ in range(push.MAX_ATTEMPTS):
        ScimPush.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        drain()
    row.refresh_from_db()
    assert row.status == PushStatus.FAILED and row.attempts == push.MAX_ATTEMPTS
    assert "gave up after 12 attempts" in row.last_error
    (status,) = target_status(district)
    assert status["failed"] == 1 and "503" in status["last_error"]
    listing = cli("integrations", "status", district.slug, "--json").json
    assert listing["targets"][0]["failed"] == 1
    assert TOKEN not in cli("integrations", "status", district.slug).stdout, "the token is never shown"

    scripted_server.default = 200
    assert cli("integrations", "scim", "retry", district.slug, "flaky", "--json").json == {"requeued": 1}
    drain()
    row.refresh_from_db()
    assert row.status == PushStatus.DONE
    assert scripted_server.received[-1].method == "PATCH"
    assert b'"active"' in scripted_server.received[-1].body


def test_revocations_go_ahead_of_a_provisioning_backlog(cli, district, tmp_path, scim_server):
    """With 60 provisioning pushes waiting, a revocation committed afterwards is pushed in the first batch."""
    provisioned(cli, district, tmp_path, n=30)
    early = Account.objects.get(district=district, person__sis_code="p7")
    target = add_target(district, "app", scim_server.base_url, TOKEN, actor="test")
    drain()  # p7 exists downstream
    lifecycle.revoke_account(Account.objects.get(pk=early.pk), actor="test")
    # A backlog: every other account changes (e.g. a sync re-sending names) and waits.
    ScimPush.objects.filter(target=target).exclude(account_id=early.pk).update(
        status=PushStatus.PENDING,
        priority=PushPriority.UPDATE,
        last_pushed_hash="",
        next_attempt_at=timezone.now(),
    )
    first = push.claim(PushPriority.REVOKE, 20)
    assert [r.account_id for r in first] == [early.pk], "the revocation is claimed on its own"
    ScimPush.objects.filter(pk=first[0].pk).update(next_attempt_at=timezone.now())  # hand it back
    requests_before = len(scim_server.users())
    report = push.push_due(PushPriority.REVOKE, 20)
    assert report.pushed == 1
    assert scim_server.user("p7")["active"] is False, "switched off before any of the backlog was pushed"
    assert ScimPush.objects.filter(target=target, status=PushStatus.PENDING).count() == 59
    assert len(scim_server.users()) == requests_before
    drain()
    assert not ScimPush.objects.filter(target=target, status=PushStatus.PENDING).exists()


def test_a_user_already_downstream_is_adopted_not_duplicated(cli, district, tmp_path, scim_server):
    provisioned(cli, district, tmp_path, n=1)
    first = add_target(district, "app", scim_server.base_url, TOKEN, actor="test")
    drain()
    first.delete()  # forget every downstream id, as after re-adding a target
    add_target(district, "app-again", scim_server.base_url, TOKEN, actor="test")
    ScimPush.objects.filter(district=district).update(next_attempt_at=timezone.now())
    drain()
    assert len(scim_server.users()) == 2
    assert set(ScimPush.objects.filter(district=district).values_list("status", flat=True)) == {
        PushStatus.DONE
    }


def test_cli_adds_lists_and_removes_targets_and_rejects_bad_input(cli, district, scim_server, monkeypatch):
    bad = cli(
        "integrations", "scim", "add", district.slug, "x", "ftp://example.org", "--token", "t", "--json"
    )
    assert bad.code == 1 and "absolute http:// or https:// URL" in bad.json["error"]
    missing = cli("integrations", "scim", "add", district.slug, "x", scim_server.base_url, "--json")
    assert missing.code == 1 and "bearer token" in missing.json["error"]
    monkeypatch.setenv("DOWNSTREAM_TOKEN", TOKEN)
    added = cli("integrations", "scim", "add", district.slug, "app", scim_server.base_url,
                "--token-env", "DOWNSTREAM_TOKEN", "--json")  # fmt: skip
    assert added.code == 0 and TOKEN not in added.stdout
    target = ScimTarget.objects.get(district=district)
    assert TOKEN not in target.token_encrypted
    twice = cli(
        "integrations", "scim", "add", district.slug, "app", scim_server.base_url, "--token", "t", "--json"
    )
    assert twice.code == 1 and "already has a SCIM target named 'app'" in twice.json["error"]
    off = cli("integrations", "scim", "set", district.slug, "app", "--enabled", "off", "--json")
    assert off.json["target"]["enabled"] is False
    listed = cli("integrations", "scim", "list", district.slug, "--json").json
    assert [t["name"] for t in listed["targets"]] == ["app"]
    unknown = cli("integrations", "scim", "remove", district.slug, "nope", "--json")
    assert unknown.code == 1 and "no SCIM target named 'nope'" in unknown.json["error"]
    assert cli("integrations", "scim", "remove", district.slug, "app", "--json").code == 0
    assert not ScimTarget.objects.filter(district=district).exists()


@pytest.mark.django_db(transaction=True)
def test_a_committed_revocation_queues_the_worker(cli, tmp_path, scim_server):
    """The kick happens after commit: the worker's task is queued once, and running it (as the worker
    does) switches the user off."""
    from django_tasks_db.models import DBTaskResult

    from schoolgate.integrations.tasks import run_integrations
    from tests.factories import make_district

    district = make_district()
    provisioned(cli, district, tmp_path, n=2)
    add_target(district, "app", scim_server.base_url, TOKEN, actor="test")
    DBTaskResult.objects.all().delete()
    drain()
    lifecycle.revoke_account(Account.objects.get(district=district, person__sis_code="p1"), actor="test")
    queued = DBTaskResult.objects.filter(task_path=run_integrations.module_path, status="READY")
    assert queued.count() == 1
    run_integrations.call()
    assert scim_server.user("p1")["active"] is False


def test_a_rolled_back_change_records_nothing(cli, district, tmp_path, scim_server):
    provisioned(cli, district, tmp_path, n=1)
    target = add_target(district, "app", scim_server.base_url, TOKEN, actor="test")
    drain()
    account = Account.objects.get(district=district, person__sis_code="p0")
    with pytest.raises(RuntimeError), transaction.atomic():
        lifecycle.revoke_account(account, actor="test")
        assert ScimPush.objects.get(target=target, account_id=account.pk).status == PushStatus.PENDING
        raise RuntimeError("the admin's request failed later")
    row = ScimPush.objects.get(target=target, account_id=account.pk)
    assert row.status == PushStatus.DONE and row.priority == PushPriority.UPDATE
    drain()
    assert scim_server.user("p0")["active"] is True
