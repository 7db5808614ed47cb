"""Webhooks, delivered to a real HTTP server on loopback: account events named by what changed, sync runs,
a signature the receiver can verify (and a tampered body it can reject), retries with back-off, and the
status the CLI and the console show."""

from __future__ import annotations

import json

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from schoolgate.admins import roles
from schoolgate.integrations import webhooks
from schoolgate.integrations.configuration import add_endpoint, add_target, endpoint_status
from schoolgate.integrations.models import DeliveryStatus, WebhookDelivery
from schoolgate.integrations.tasks import drain
from tests.factories import log_in_admin, make_admin
from tests.integrations.conftest import TOKEN, sync_families


def bodies(server) -> list[dict]:
    return [json.loads(r.body) for r in server.received]


def test_account_events_are_signed_and_verifiable(cli, district, tmp_path, scripted_server):
    sync_families(cli, district, tmp_path, 2)
    added = cli("integrations", "webhook", "add", district.slug, "hr", scripted_server.url + "/hook",
                "--events", "account.provisioned,account.revoked,sync.finished", "--json")  # fmt: skip
    assert added.code == 0, added.stderr
    secret = added.json["secret"]
    assert secret.startswith("whsec_") and secret not in cli("integrations", "status", district.slug).stdout

    cli("provision", district.slug, "p0", "p1", "--json")
    lifecycle.revoke_account(Account.objects.get(district=district, person__sis_code="p0"), actor="test")
    lifecycle.resend_welcome(Account.objects.get(district=district, person__sis_code="p1"), actor="test")
    drain()

    events = bodies(scripted_server)
    assert [(e["type"], e["data"]["sis_code"]) for e in events] == [
        ("account.provisioned", "p0"),
        ("account.provisioned", "p1"),
        ("account.revoked", "p0"),
    ], "account.changed (p1's resend) was not subscribed"
    revoked = events[2]
    assert revoked["district"] == district.slug
    assert revoked["data"]["state"] == "revoked" and revoked["data"]["previous_state"] == "invited"
    request = scripted_server.received[2]
    assert request.headers["Schoolgate-Event"] == "account.revoked"
    assert request.headers["Schoolgate-Delivery"] == revoked["id"]
    signature = request.headers["Schoolgate-Signature"]
    assert webhooks.verify_signature(secret, signature, request.body)
    assert not webhooks.verify_signature(secret, signature, request.body.replace(b"revoked", b"active__"))
    assert not webhooks.verify_signature("whsec_other", signature, request.body)
    timestamp = int(signature.split(",")[0].removeprefix("t="))
    assert not webhooks.verify_signature(secret, signature, request.body, now=timestamp + 301), "a replay"

    # The verification recipe, written out as a receiver would (no Schoolgate code).
    import hashlib
    import hmac

    parts = dict(p.split("=", 1) for p in signature.split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])

    cli("sync", district.slug, str(tmp_path / "sis"), "--json")
    drain()
    (finished,) = [e for e in bodies(scripted_server) if e["type"] == "sync.finished"]
    assert finished["data"]["status"] == "applied" and finished["data"]["run"]


def test_a_timestamp_in_other_digits_is_refused_not_raised():
    """str.isdigit() is true for "²" (int() refuses it: an exception in the receiver's code) and for Arabic-Indic
    digits (int() reads them: a second spelling of a signed timestamp). Only ASCII digits are a timestamp."""
    body = b'{"id":"evt_1"}'
    signed = webhooks.sign("whsec_test", body, timestamp=1795345200)
    assert webhooks.verify_signature("whsec_test", signed, body, now=1795345200)
    mac = signed.partition(",v1=")[2]
    assert not webhooks.verify_signature("whsec_test", f"t=²,v1={mac}", body, now=2)
    arabic = "1795345200".translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert not webhooks.verify_signature("whsec_test", f"t={arabic},v1={mac}", body, now=1795345200)
    zero = webhooks.sign("whsec_test", body, timestamp=0)
    assert webhooks.verify_signature("whsec_test", zero, body, now=0), "t=0 is a timestamp, if an old one"


def test_deliveries_are_retried_with_backoff_then_fail_visibly(cli, district, tmp_path, scripted_server):
    sync_families(cli, district, tmp_path, 1)
    add_endpoint(district, "hr", scripted_server.url, ["*"], actor="test")
    scripted_server.script = [503, 500]
    cli("provision", district.slug, "p0", "--json")
    drain()
    delivery = WebhookDelivery.objects.get(district=district, sis_code="p0")
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_status_code == 503 and delivery.next_attempt_at > timezone.now()
    for expected_code in (500, 200):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        drain()
        delivery.refresh_from_db()
        assert delivery.last_status_code == expected_code
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 3
    ids = {r.headers["Schoolgate-Delivery"] for r in scripted_server.received}
    assert ids == {f"evt_{delivery.pk}"}, "every retry carries the same event id"
    assert len({r.body for r in scripted_server.received}) == 1, "and the same body"

    scripted_server.default = 500
    lifecycle.revoke_account(Account.objects.get(district=district, person__sis_code="p0"), actor="test")
    failing = WebhookDelivery.objects.get(district=district, event_type="account.revoked")
    for _ in range(webhooks.MAX_ATTEMPTS):
        WebhookDelivery.objects.filter(pk=failing.pk).update(next_attempt_at=timezone.now())
        drain()
    failing.refresh_from_db()
    assert failing.status == DeliveryStatus.FAILED and "gave up" in failing.last_error
    status = cli("integrations", "webhook", "list", district.slug, "--json").json["endpoints"][0]
    assert status["failed"] == 1 and status["delivered"] >= 1 and "answered 500" in status["last_error"]


def test_endpoint_status_costs_the_same_queries_for_two_or_five_endpoints(district):
    """The status page reads every endpoint's last error at once, not one query per endpoint."""
    now = timezone.now()

    def add(names: list[str]) -> None:
        for name in names:
            endpoint = add_endpoint(district, name, "http://127.0.0.1:9/hook", ["*"], actor="test").endpoint
            for error in (f"{name}: older", f"{name}: newest", ""):  # the last one was delivered
                WebhookDelivery.objects.create(
                    district=district, endpoint=endpoint, event_type="account.revoked", occurred_at=now,
                    next_attempt_at=now, last_error=error,
                    status=DeliveryStatus.FAILED if error else DeliveryStatus.DELIVERED,
                )  # fmt: skip

    def measured() -> tuple[int, list[dict]]:
        with CaptureQueriesContext(connection) as queries:
            status = endpoint_status(district)
        return len(queries), status

    add(["a", "b"])
    two, _ = measured()
    add(["c", "d", "e"])
    five, status = measured()
    assert two == five, f"{two} queries for 2 endpoints, {five} for 5"
    assert [e["last_error"] for e in status] == [f"{n}: newest" for n in "abcde"]
    assert [e["failed"] for e in status] == [2] * 5


def test_cli_rejects_unknown_event_types(cli, district):
    result = cli("integrations", "webhook", "add", district.slug, "x", "http://127.0.0.1:9/h",
                 "--events", "account.exploded", "--json")  # fmt: skip
    assert result.code == 1 and "unknown event type(s) account.exploded" in result.json["error"]


def test_console_page_lists_targets_and_endpoints_for_permitted_admins(client, district, scim_server):
    add_target(district, "app", scim_server.base_url, TOKEN, actor="test")
    add_endpoint(district, "hr", "http://127.0.0.1:9/hook", ["account.revoked"], actor="test")
    primary = make_admin(district, "primary@example.org", roles.PRIMARY)
    log_in_admin(client, primary)
    page = client.get(f"/console/{district.slug}/integrations/")
    assert page.status_code == 200
    assert (
        b"app" in page.content and b"account.revoked" in page.content and TOKEN.encode() not in page.content
    )
    assert b'/integrations/">Integrations</a>' in client.get(f"/console/{district.slug}/").content
    client.logout()
    support = make_admin(district, "support@example.org", roles.SUPPORT_ROLE)
    log_in_admin(client, support)
    assert client.get(f"/console/{district.slug}/integrations/").status_code == 403
    assert b"Integrations</a>" not in client.get(f"/console/{district.slug}/").content
