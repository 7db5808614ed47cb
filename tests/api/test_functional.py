"""The API's behaviour end to end: listings, filters and cursor pages; every account action through the domain
(audited with the token as actor); sync upload → worker → run, a held run confirmed or discarded; error bodies."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from schoolgate.accounts.models import Account, AccountState
from schoolgate.core.models import AuditEvent
from schoolgate.people.models import Override
from schoolgate.sync.models import SyncRun, SyncStatus
from tests.api.conftest import EVERYTHING, Api, populate, token_for
from tests.builders import write_oneroster
from tests.console.test_access import people
from tests.factories import make_district


@pytest.fixture
def alpha(cli, tmp_path, settings):
    settings.SCHOOLGATE_REPORTS_DIR = tmp_path / "reports"
    district = make_district("alpha", name="Alpha")
    return district, populate(cli, district, tmp_path, "a")


def test_accounts_filter_and_cursor_pages(alpha, api_for, cli, tmp_path):
    district, _ = alpha
    api = api_for(district)
    everyone = Account.objects.filter(district=district).count()
    seen, cursor = [], None
    while True:
        body = api.get("/accounts", data={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        assert len(body["items"]) <= 3 and body["page"]["limit"] == 3
        seen += [row["person"] for row in body["items"]]
        cursor = body["page"]["next"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == everyone
    contacts = api.get("/accounts", data={"kind": "contact"}).json()["items"]
    assert contacts and {row["kind"] for row in contacts} == {"contact"}
    invited = api.get("/accounts", data={"state": "invited"}).json()["items"]
    assert {row["person"] for row in invited} == set(
        Account.objects.filter(district=district, state="invited").values_list("person__sis_code", flat=True)
    )
    assert [row["person"] for row in api.get("/accounts", data={"q": "ap1"}).json()["items"]] == ["ap1"]
    assert (
        api.get("/accounts", data={"school": "asouth", "kind": "contact"})
        .json()["items"][0]["person"]
        .startswith("asp")
    )
    populate(cli, make_district("bravo", name="Bravo"), tmp_path, "b")  # its schools: bnorth, bsouth
    for unknown in ("nowhere", "bnorth"):  # a school of no district, and one of another district
        missing = api.get("/accounts", data={"school": unknown})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found", unknown
    wrong = api.get("/accounts", data={"state": "asleep"})
    assert wrong.status_code == 422
    error = wrong.json()["error"]
    assert error["code"] == "invalid_input" and error["message"].startswith("state in query")
    assert error["detail"]["errors"][0]["value"] == "asleep"
    assert api.get("/accounts", data={"limit": 201}).status_code == 422
    forged = api.get("/accounts", data={"cursor": "not-a-cursor"})
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "invalid_cursor"
    assert forged.json()["error"]["detail"] == {"field": "cursor"}, "as /people and every listing answer it"


def test_people_and_links(alpha, api_for):
    district, _ = alpha
    api = api_for(district)
    first = api.get("/people", data={"limit": 2}).json()
    second = api.get("/people", data={"limit": 2, "cursor": first["page"]["next"]}).json()
    codes = [p["code"] for p in first["items"] + second["items"]]
    assert codes == sorted(codes) and len(set(codes)) == 4
    assert (
        api.get("/people", data={"cursor": first["page"]["next"] + "x"}).json()["error"]["code"]
        == "invalid_cursor"
    )
    parent = api.get("/people/ap0").json()
    assert parent["person"]["kind"] == "contact" and parent["visible_students"] == ["ak0"]
    link = parent["links"][0]
    assert link["student"] == "ak0" and link["contact"] == "ap0" and link["portal_flag"] is True
    assert "reports" in link["sections"] and link["flag_rule"]
    links = api.get("/links", data={"contact": "ap0"}).json()["items"]
    assert [(row["student"], row["contact"]) for row in links] == [("ak0", "ap0")]
    override = api.post("/overrides", json={"contact": "ap0", "student": "ak0", "field": "reports", "value": False,
                                            "reason": "court order"})  # fmt: skip
    assert override.status_code == 201
    assert "reports" not in api.get("/people/ap0").json()["links"][0]["sections"]
    removed = api.call("DELETE", f"/overrides/{override.json()['id']}")
    assert removed.status_code == 200
    assert "reports" in api.get("/people/ap0").json()["links"][0]["sections"]
    actions = list(
        AuditEvent.objects.filter(district=district, actor=api.actor).values_list("action", flat=True)
    )
    assert "override.set" in actions and "override.removed" in actions


def test_every_action_goes_through_the_domain_and_is_audited(alpha, api_for):
    district, _ = alpha
    api = api_for(district)
    student = api.post("/accounts/ak0/provision")
    assert student.status_code == 200 and student.json()["state"] == AccountState.INVITED
    again = api.post("/accounts/ak0/provision")
    assert again.status_code == 409
    assert again.json()["error"] == {"code": "illegal_transition", "detail": {},
                                     "message": "cannot provision ak0: the account is invited"}  # fmt: skip
    assert api.post("/accounts/ak0/resend-welcome").status_code == 200
    Account.objects.filter(person__sis_code="ak0").update(failed_logins=5)
    assert api.post("/accounts/ak0/unlock").status_code == 200
    revoked = api.post("/accounts/ak0/revoke", json={"reason": "left_sis"})
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    ready = Account.objects.filter(district=district, state=AccountState.READY_TO_PROVISION).count()
    bulk = api.post("/account-actions/provision", json={"all_ready": True}).json()
    assert bulk["counts"]["provisioned"] == ready > 0
    unknown = api.post("/account-actions/revoke", json={"codes": ["ap0", "nobody"]})
    assert unknown.status_code == 404 and unknown.json()["error"]["detail"] == {"person": "nobody"}
    assert Account.objects.get(person__sis_code="ap0").state == AccountState.INVITED  # nothing changed
    neither = api.post("/account-actions/revoke", json={})
    assert neither.status_code == 422 and "codes" in neither.json()["error"]["message"]
    misspelt = api.post("/account-actions/revoke", json={"code": ["ap0"], "all_ready": False})
    assert misspelt.status_code == 422, "an unknown field is refused, not ignored"
    assert misspelt.json()["error"]["message"].startswith("code in body: Extra inputs are not permitted")
    assert Account.objects.get(person__sis_code="ap0").state == AccountState.INVITED  # nothing changed
    assert api.post("/account-actions/revoke", json={"codes": ["ap0"]}).json()["counts"]["revoked"] == 1
    events = AuditEvent.objects.filter(district=district, actor=api.actor)
    assert set(events.values_list("action", flat=True)) >= {
        "account.provisioned", "account.welcome_resent", "account.unlocked", "account.revoked"}  # fmt: skip
    assert api.actor.startswith("api:sg_") and len(api.actor) == 14
    audit = api.get("/audit-events", data={"actor": api.actor, "action": "account.", "limit": 2}).json()
    assert len(audit["items"]) == 2 and audit["page"]["next"]
    rest = api.get(
        "/audit-events", data={"actor": api.actor, "action": "account.", "cursor": audit["page"]["next"]}
    )
    ids = [e["id"] for e in audit["items"] + rest.json()["items"]]
    assert (
        ids == sorted(ids, reverse=True) and len(ids) == events.filter(action__startswith="account.").count()
    )


def test_transfer_and_doctor(alpha, api_for):
    district, _ = alpha
    api = api_for(district)
    diagnosis = api.get("/doctor", data={"person": "ap0"}).json()
    assert "not_provisioned" in [f["code"] for f in diagnosis["findings"]]
    applied = api.post("/doctor/apply", json={"person": "ap0", "finding": "not_provisioned"})
    assert applied.status_code == 200 and applied.json()["applied"]["action"] == "provision"
    assert "not_provisioned" not in [f["code"] for f in applied.json()["diagnosis"]["findings"]]
    assert AuditEvent.objects.filter(actor=api.actor, action="account.provisioned").exists()
    unknown = api.post("/doctor/apply", json={"person": "ap0", "finding": "not_provisioned"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "fix_rejected", (
        "no such finding now"
    )
    both = api.get("/doctor", data={"person": "ap0", "email": "ap0@example.org"})
    assert both.status_code == 422 and "exactly one" in both.json()["error"]["message"]
    unasked = api.post("/accounts/ap0/transfer", json={"to": "ap1"})
    assert unasked.status_code == 409 and "same person" in unasked.json()["error"]["message"], (
        "ap0's login is in use and no sync matched ap0 and ap1"
    )
    moved = api.post("/accounts/ap0/transfer", json={"to": "ap1", "same_person": True})
    assert (
        moved.status_code == 200
        and moved.json()["from_person"] == "ap0"
        and moved.json()["to_person"] == "ap1"
    )
    old = api.get("/accounts/ap0").json()
    assert (old["state"], old["reason"], old["successor"]) == ("revoked", "superseded", "ap1")
    assert api.get("/accounts/ap1").json()["state"] == "invited"
    assert AuditEvent.objects.filter(actor=api.actor, target_label__in=["ap0", "ap1"]).count() >= 3
    # The status follows the kind of refusal (core.refusals), whichever domain function refused.
    to_self = api.post("/accounts/ap1/transfer", json={"to": "ap1"})
    assert to_self.status_code == 422 and to_self.json()["error"]["code"] == "transfer_rejected"
    to_nobody = api.post("/accounts/ap1/transfer", json={"to": "nobody"})
    assert to_nobody.status_code == 404 and "no person 'nobody'" in to_nobody.json()["error"]["message"]
    no_login = api.post("/accounts/ap0/transfer", json={"to": "ap1"})  # ap0's login moved to ap1 above
    assert no_login.status_code == 409 and "no login to transfer" in no_login.json()["error"]["message"]
    unlinked = api.post("/overrides", json={"contact": "ap0", "student": "ak1", "field": "portal",
                                            "value": True, "reason": "court order"})  # fmt: skip
    assert unlinked.status_code == 404 and "not linked" in unlinked.json()["error"]["message"]
    no_reason = api.post("/overrides", json={"contact": "ap0", "student": "ak0", "field": "portal",
                                             "value": True, "reason": " "})  # fmt: skip
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.json()["error"]["message"]


def _zip(tmp_path, name: str, users: list[dict]) -> SimpleUploadedFile:
    orgs = [{"sourcedId": "anorth", "name": "North", "type": "school"},
            {"sourcedId": "asouth", "name": "South", "type": "school"}]  # fmt: skip
    path = write_oneroster(tmp_path / name, users=users, orgs=orgs, zip_to=tmp_path / f"{name}.zip")
    return SimpleUploadedFile(f"{name}.zip", path.read_bytes(), content_type="application/zip")


def _work() -> None:
    """Run the queued tasks as `schoolgate db_worker` does."""
    from django_tasks_db.management.commands.db_worker import Worker

    Worker(
        queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
        max_tasks=None, worker_id="test", excluded_queue_names=[],
    ).run()  # fmt: skip


def test_upload_held_run_confirm_and_discard(transactional_db, api_for, tmp_path, settings, cli):
    """The real path: upload → queued → the worker's run → held by the guard → confirmed (or discarded)."""
    settings.VAR_DIR = tmp_path / "var"
    district = make_district("upload", name="Upload")
    api = api_for(district)
    everyone = people("a", "anorth") + people("as", "asouth")
    first = api.post("/sync-runs", data={"file": _zip(tmp_path, "first", everyone)})
    assert first.status_code == 202 and first.json()["status"] == "READY" and first.json()["run"] is None
    _work()
    done = api.get(f"/sync-uploads/{first.json()['id']}").json()
    assert done["status"] == "SUCCESSFUL" and done["run"] and done["confirming"] is None
    run = api.get(f"/sync-runs/{done['run']}").json()
    assert run["status"] == SyncStatus.APPLIED and run["actor"] == api.actor
    assert run["durations"] == SyncRun.objects.get(pk=done["run"]).durations and "commit" in run["durations"]
    api.post("/account-actions/provision", json={"all_ready": True})
    # Every family leaves: far beyond the 5% guard.
    leaving = api.post("/sync-runs", data={"file": _zip(tmp_path, "second", everyone[:2])})
    _work()
    held_id = api.get(f"/sync-uploads/{leaving.json()['id']}").json()["run"]
    held = api.get(f"/sync-runs/{held_id}").json()
    assert held["status"] == SyncStatus.HELD and held["diff"]
    assert Account.objects.filter(district=district, state="ready_to_revoke").count() == 0
    confirming = api.post(f"/sync-runs/{held_id}/confirm")
    assert confirming.status_code == 202 and confirming.json()["confirming"] == held_id
    upload_id = confirming.json()["id"]
    queued = api.get(f"/sync-uploads/{upload_id}").json()
    assert queued["status"] == "READY" and queued["confirming"] == held_id, "as the confirmation answered"
    # A repeat while the confirmation waits is answered with it: no second confirmation, rejected later.
    repeat = api.post(f"/sync-runs/{held_id}/confirm")
    assert repeat.status_code == 202 and repeat.json() == confirming.json()
    runs = SyncRun.objects.filter(district=district).count()
    _work()
    assert SyncRun.objects.get(pk=held_id).status == SyncStatus.CONFIRMED
    assert SyncRun.objects.filter(district=district).count() == runs + 1, "one confirmation ran"
    confirmed = api.get(f"/sync-uploads/{upload_id}").json()
    assert confirmed["status"] == "SUCCESSFUL" and confirmed["confirming"] == held_id and confirmed["run"]
    late = api.post(f"/sync-runs/{held_id}/confirm")
    assert late.status_code == 409 and late.json()["error"]["code"] == "not_held"
    assert Account.objects.filter(district=district, state="ready_to_revoke").exists()
    again = api.post(f"/sync-runs/{held_id}/discard")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_held"
    # A second held run, discarded.
    api.post("/sync-runs", data={"file": _zip(tmp_path, "third", everyone)})
    _work()
    api.post("/account-actions/provision", json={"all_ready": True})
    api.post("/sync-runs", data={"file": _zip(tmp_path, "fourth", everyone[:2])})
    _work()
    newest = SyncRun.objects.filter(district=district).latest("pk")
    assert newest.status == SyncStatus.HELD
    # Newer files applied meanwhile: confirming the held run would put its older data back.
    api.post("/sync-runs", data={"file": _zip(tmp_path, "fifth", everyone)})
    _work()
    stale = api.post(f"/sync-runs/{newest.pk}/confirm")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "superseded"
    discarded = api.post(f"/sync-runs/{newest.pk}/discard")
    assert discarded.status_code == 200 and discarded.json()["status"] == SyncStatus.DISCARDED
    assert AuditEvent.objects.filter(actor=api.actor, action="sync.discarded").count() == 1


def test_bad_uploads_are_rejected_naming_the_file(alpha, api_for):
    district, _ = alpha
    api = api_for(district)
    runs = SyncRun.objects.count()
    text = api.post("/sync-runs", data={"file": SimpleUploadedFile("users.csv", b"a,b\n")})
    assert text.status_code == 400 and "users.csv" in text.json()["error"]["message"]
    fake = api.post("/sync-runs", data={"file": SimpleUploadedFile("x.zip", b"not a zip")})
    assert fake.status_code == 400 and fake.json()["error"]["detail"]["field"] == "file"
    missing = api.post("/sync-runs")
    assert missing.status_code == 422 and missing.json()["error"]["detail"]["errors"][0]["field"] == "file"
    assert missing.json()["error"]["message"] == "file in form: Field required"
    assert SyncRun.objects.count() == runs


def test_error_bodies(alpha, api_for, client):
    district, objects = alpha
    api = api_for(district)
    for response, status, code in (
        (client.get("/api/v1/people"), 401, "unauthenticated"),
        (api_for(district, "billing").get("/people"), 403, "forbidden"),
        (api.get("/people/nobody"), 404, "not_found"),
        (api.get("/nowhere"), 404, "not_found"),
        (api.call("PUT", "/people"), 405, "method_not_allowed"),
        (api.get(f"/jobs/{objects['job_id'] + 1000}"), 404, "not_found"),
        (api.get("/jobs/abc"), 404, "not_found"),
        # Digits str.isdigit() accepts and int() refuses ("²"), or reads as another spelling of an id.
        (api.get("/jobs/%C2%B2"), 404, "not_found"),
        (api.get(f"/jobs/{quote(_arabic(objects['job_id']))}"), 404, "not_found"),
        (api.get("/sync-runs/%C2%B2"), 404, "not_found"),
        (api.get(f"/sync-runs/{quote(_arabic(objects['run_id']))}"), 404, "not_found"),
        (api.call("DELETE", "/overrides/%C2%B2"), 404, "not_found"),
        (api.post("/sync-runs/%C2%B2/confirm"), 404, "not_found"),
        (api.post("/overrides", data="{not json", content_type="application/json"), 400, "bad_request"),
        (api.post("/overrides", json={"contact": "ap0"}), 422, "invalid_input"),
        (api.get("/people", data={"q": "a\x00b"}), 400, "bad_request"),
        (api.get("/audit-events", data={"since": "2025-02-30"}), 422, "invalid_input"),
    ):
        assert response.status_code == status, (status, response.content)
        assert response["Content-Type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == code and error["message"] and isinstance(error["detail"], dict)
    since = api.get("/audit-events", data={"since": "2025-02-30"}).json()["error"]
    assert (
        since["message"].startswith("since in query")
        and since["detail"]["errors"][0]["value"] == "2025-02-30"
    )


def _arabic(number: int) -> str:
    """`number` in Arabic-Indic digits: str.isdigit() is true for them, and int() reads them."""
    return str(number).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


def test_writes_to_unknown_paths_are_json_404_not_a_csrf_page(alpha):
    """A client that enforces CSRF as a browser's session would: the API answers with its own errors."""
    district, _ = alpha
    api = Api(Client(enforce_csrf_checks=True), token_for(district, EVERYTHING))
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        response = api.call(method, "/nope")
        assert response.status_code == 404, (method, response.content[:200])
        assert response.json()["error"] == {"code": "not_found", "message": "no API path /api/v1/nope",
                                            "detail": {"path": "/api/v1/nope"}}  # fmt: skip
    assert api.call("PUT", "/people").status_code == 405
    assert api.post("/accounts/ak0/unlock").status_code == 200


def _send(api: Api, method: str, path: str, body: bytes, content_type: str | None) -> object:
    """A request with exactly this body and Content-Type (the test client's post() encodes its data)."""
    headers = {"Authorization": f"Bearer {api.raw}"}
    extra = {"content_type": content_type} if content_type is not None else {}
    return api.client.generic(method, f"/api/v1{path}", body, headers=headers, **extra)


def test_a_json_body_must_be_sent_as_json(alpha, api_for):
    """ninja reads every body as JSON whatever its Content-Type, so one sent as anything else is refused (415)
    before it is read; a JSON body holding NUL (which PostgreSQL cannot store) is 400."""
    district, _ = alpha
    api = api_for(district)
    override = {"contact": "ap0", "student": "ak0", "field": "reports", "value": False}
    with_nul = json.dumps({**override, "reason": "court\u0000order"}).encode()
    assert b"\\u0000" in with_nul
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "", "application/xml"):
        refused = _send(api, "POST", "/overrides", with_nul, content_type)
        assert refused.status_code == 415, (content_type, refused.content[:300])
        error = refused.json()["error"]
        assert error["code"] == "unsupported_media_type" and "application/json" in error["message"]
        assert (content_type or "no Content-Type") in error["message"], error
        assert error["detail"] == {"content_type": content_type}
    optional = _send(api, "POST", "/accounts/ak0/revoke", b'{"reason": "left_sis"}', "text/plain")
    assert optional.status_code == 415, "an operation whose body is optional reads it as JSON too"
    nul = _send(api, "POST", "/overrides", with_nul, "application/json")
    assert nul.status_code == 400 and nul.json()["error"]["detail"] == {"location": "body"}
    nul_plus = _send(api, "POST", "/overrides", with_nul, "application/merge-patch+json")
    assert nul_plus.status_code == 400, "a +json body is JSON: checked for NUL as well"
    assert not Override.objects.filter(district=district).exists(), "nothing refused was stored"
    fine = json.dumps({**override, "reason": "court order"}).encode()
    stored = _send(api, "POST", "/overrides", fine, "application/json; charset=utf-8")
    assert stored.status_code == 201, stored.content[:300]
    # No body: nothing to refuse, whatever the Content-Type says.
    assert _send(api, "POST", "/accounts/ak0/unlock", b"", "text/plain").status_code == 200
    assert _send(api, "POST", "/accounts/ak0/revoke", b"", "text/plain").status_code == 409  # none to revoke
    assert _send(api, "GET", "/people", b"", "text/plain").status_code == 200
    removed = _send(api, "DELETE", f"/overrides/{stored.json()['id']}", b"", "text/plain")
    assert removed.status_code == 200


def test_a_body_over_the_upload_limit_is_413_not_a_crash(alpha, api_for, settings):
    district, _ = alpha
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = {"contact": "ap0", "student": "ak0", "field": "reports", "value": False, "reason": "r" * 20_000}
    refused = api_for(district).post("/overrides", json=body)
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "payload_too_large"
    assert refused.json()["error"]["detail"]["limit"] == 10_000
