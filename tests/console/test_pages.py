"""The admin console's pages with a logged-in admin: they render, filter, page, confirm and act through the
same domain functions as the CLI, and never reach outside the district in the URL."""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile

import pytest
from pypdf import PdfReader

from schoolgate.accounts.models import Account
from schoolgate.core.models import AuditEvent
from schoolgate.jobs.models import Notification
from schoolgate.people.models import Override
from schoolgate.sync.models import SyncRun
from tests.builders import write_oneroster
from tests.factories import log_in_admin, make_admin, make_district

ORGS = [{"sourcedId": "north", "name": "North High", "type": "school"}]


def users(n: int = 4) -> list[dict]:
    rows = []
    for i in range(n):
        rows += [
            {"sourcedId": f"k{i}", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": f"p{i}",
             "familyName": f"Kid{i:02d}"},
            {"sourcedId": f"p{i}", "role": "parent", "orgSourcedIds": "north", "familyName": f"Parent{i:02d}",
             "email": f"p{i}@example.org"},
        ]  # fmt: skip
    return rows


@pytest.fixture
def admin(client, district):
    log_in_admin(client, make_admin(district))
    return client


@pytest.fixture
def synced(cli, district, tmp_path, settings):
    settings.SCHOOLGATE_REPORTS_DIR = tmp_path / "reports"
    cli("sync", district.slug, write_oneroster(tmp_path / "set", users=users(), orgs=ORGS), "--json")
    return district


def rows(response) -> list[int]:
    return [int(m) for m in re.findall(rb'data-account="(\d+)"', response.content)]


def test_account_list_filters_searches_and_pages_by_keyset(admin, synced):
    base = f"/console/{synced.slug}/accounts/"
    everyone = admin.get(base)
    assert everyone.status_code == 200 and len(rows(everyone)) == 8
    assert len(rows(admin.get(base, {"kind": "contact"}))) == 4
    assert len(rows(admin.get(base, {"q": "parent0"}))) == 4, "family-name prefix, any case"
    assert len(rows(admin.get(base, {"q": "p2"}))) == 1, "an exact code"
    assert len(rows(admin.get(base, {"q": "P3@Example.org"}))) == 1, "an e-mail, any case"
    assert len(rows(admin.get(base, {"school": "north", "state": "active"}))) == 0
    page1 = admin.get(base, {"per_page": 3})
    next_link = (
        re.search(rb'id="next-page" href="([^"]+)"', page1.content).group(1).decode().replace("&amp;", "&")
    )
    page2 = admin.get(base + next_link)
    assert len(rows(page1)) == 3 and set(rows(page1)).isdisjoint(rows(page2))
    partial = admin.get(base, {"kind": "student"}, HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and len(rows(partial)) == 4, "htmx gets the table only"
    assert admin.get(base, {"state": "sleeping"}).status_code == 400
    assert admin.get(base, {"after": "forged"}).status_code == 400


def test_htmx_partials_do_not_read_the_bell_or_the_district_switcher(admin, synced):
    """The bell's count and the district list belong to the page layout; the rows an htmx request swaps in
    must not pay for them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    base = f"/console/{synced.slug}/accounts/"
    notification = Notification._meta.db_table

    def tables_read(**headers) -> str:
        with CaptureQueriesContext(connection) as queries:
            assert admin.get(base, **headers).status_code == 200
        return " ".join(q["sql"] for q in queries.captured_queries)

    page = tables_read()
    assert notification in page, "the full page shows the bell"
    partial = tables_read(HTTP_HX_REQUEST="true")
    assert notification not in partial and partial.count("SELECT") < page.count("SELECT")


def test_bulk_action_states_the_count_then_acts(admin, synced):
    url = f"/console/{synced.slug}/accounts/action/"
    picked = [str(a.pk) for a in Account.objects.filter(person__kind="contact")[:2]]
    confirm = admin.post(url, {"action": "provision", "account": picked})
    assert confirm.status_code == 200 and b"Send welcome: 2 accounts" in confirm.content
    assert b"to exactly these 2 accounts:" in confirm.content
    one = admin.post(url, {"action": "provision", "account": picked[:1]})
    assert b"to this one account:" in one.content and b"these 1" not in one.content
    assert Account.objects.filter(state="invited").count() == 0, "nothing happens before confirmation"
    done = admin.post(url, confirmation(confirm))
    assert done.status_code == 302 and "/jobs/" in done["Location"]
    assert Account.objects.filter(state="invited").count() == 2
    assert AuditEvent.objects.filter(action="account.provisioned", actor="admin:ada@example.org").count() == 2
    asked = admin.post(url, {"action": "provision", "scope": "all", "kind": "contact"})
    every = admin.post(url, confirmation(asked))
    assert (
        every.status_code == 302
        and Account.objects.filter(person__kind="contact", state="invited").count() == 4
    )
    job_page = admin.get(every["Location"])
    assert b"done" in job_page.content and b"report.pdf" in job_page.content
    assert admin.post(url, {"action": "explode", "scope": "all"}).status_code == 400
    assert admin.post(url, {"action": "revoke"}).status_code == 400, "nothing selected"


def confirmation(page) -> dict[str, list[str]]:
    """The fields the confirmation page's form posts (its hidden inputs)."""
    posted: dict[str, list[str]] = {}
    for name, value in re.findall(rb'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.content):
        if name != b"csrfmiddlewaretoken":
            posted.setdefault(name.decode(), []).append(value.decode())
    return posted


def test_confirming_every_match_acts_only_on_what_was_confirmed(admin, synced):
    """The confirmation lists the accounts "every match" found; if another admin or a sync changes which
    accounts match before the admin confirms, nothing is done and the new selection is shown instead."""
    url = f"/console/{synced.slug}/accounts/action/"
    Account.objects.filter(person__sis_code="p0").update(state="invited")
    asked = admin.post(url, {"action": "revoke", "scope": "all", "state": "invited"})
    assert b"Revoke access: 1 account" in asked.content
    Account.objects.filter(person__sis_code="p1").update(state="invited")  # meanwhile, elsewhere
    changed = admin.post(url, confirmation(asked))
    assert changed.status_code == 409 and b"changed since you looked" in changed.content
    assert b"Revoke access: 2 accounts" in changed.content
    assert not Account.objects.filter(state="revoked").exists(), "nothing is done on a changed selection"
    done = admin.post(url, confirmation(changed))
    assert done.status_code == 302 and Account.objects.filter(state="revoked").count() == 2


def test_bulk_action_with_a_bad_filter_says_so(admin, synced):
    url = f"/console/{synced.slug}/accounts/action/"
    refused = admin.post(url, {"action": "revoke", "scope": "all", "kind": "bogus"})
    assert refused.status_code == 400 and b"bogus" in refused.content
    assert admin.post(url, {"action": "revoke", "account": ["\u00b2", "abc"]}).status_code == 400


def test_person_page_and_overrides(admin, synced):
    page = admin.get(f"/console/{synced.slug}/people/k0/")
    assert page.status_code == 200 and b"p0" in page.content and b"parents-and-guardians" in page.content
    posted = admin.post(f"/console/{synced.slug}/people/k0/override/",
                        {"contact": "p0", "student": "k0", "field": "reports", "value": "off", "reason": "fees"})  # fmt: skip
    assert posted.status_code == 302
    override = Override.objects.get()
    assert (override.field, override.value, override.created_by) == (
        "reports",
        False,
        "admin:ada@example.org",
    )
    assert b"fees" in admin.get(f"/console/{synced.slug}/people/p0/").content
    missing_reason = admin.post(f"/console/{synced.slug}/people/k0/override/",
                                {"contact": "p0", "student": "k0", "field": "portal", "value": "off", "reason": ""})  # fmt: skip
    assert missing_reason.status_code == 400
    admin.post(f"/console/{synced.slug}/people/k0/override/", {"remove": override.pk})
    assert Override.objects.get().removed_at is not None
    assert admin.get(f"/console/{synced.slug}/people/nobody/").status_code == 404


def zip_of(folder) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in folder.iterdir():
            archive.write(path, path.name)
    buffer.seek(0)
    buffer.name = "export.zip"
    return buffer


def test_sync_upload_and_a_held_run_confirmed_or_discarded(admin, synced, cli, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    cli("provision", synced.slug, "--all", "--json")
    for account in Account.objects.all():
        from schoolgate.accounts import lifecycle

        lifecycle.activate_account(account, username=account.person.sis_code, password="x" * 12, actor="test")
    leaving = write_oneroster(tmp_path / "leaving", users=users(2), orgs=ORGS)  # half the families leave
    uploaded = admin.post(f"/console/{synced.slug}/sync/upload/", {"file": zip_of(leaving)})
    assert uploaded.status_code == 302
    held = SyncRun.objects.order_by("-pk").first()
    assert held.status == "held"
    page = admin.get(uploaded["Location"])
    assert b"would be revoked" in page.content
    assert b'<td>Parent03 <span class="muted">(p3)</span></td>' in page.content, "named, with the code"
    assert b"<td>left_sis</td>" in page.content
    confirmed = admin.post(f"/console/{synced.slug}/sync/{held.pk}/decide/", {"decision": "confirm"})
    assert confirmed.status_code == 302
    assert SyncRun.objects.get(pk=held.pk).status == "confirmed"
    assert Account.objects.filter(state="ready_to_revoke").count() == 4
    assert (
        admin.post(f"/console/{synced.slug}/sync/{held.pk}/decide/", {"decision": "discard"}).status_code
        == 404
    )
    bad = admin.post(f"/console/{synced.slug}/sync/upload/", {"file": io.BytesIO(b"x")})
    assert bad.status_code == 400
    assert b"#" in admin.get(f"/console/{synced.slug}/sync/").content


def test_a_held_run_is_not_confirmed_once_newer_files_were_applied(admin, synced, cli, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    cli("provision", synced.slug, "--all", "--json")
    from schoolgate.accounts import lifecycle

    for account in Account.objects.all():
        lifecycle.activate_account(account, username=account.person.sis_code, password="x" * 12, actor="test")
    leaving = write_oneroster(tmp_path / "leaving", users=users(2), orgs=ORGS)
    admin.post(f"/console/{synced.slug}/sync/upload/", {"file": zip_of(leaving)})
    held = SyncRun.objects.order_by("-pk").first()
    renamed = [u | {"givenName": "Valentyna"} if u["sourcedId"] == "p3" else u for u in users()]
    newer_files = write_oneroster(tmp_path / "renamed", users=renamed, orgs=ORGS)
    admin.post(f"/console/{synced.slug}/sync/upload/", {"file": zip_of(newer_files)})
    newer = SyncRun.objects.order_by("-pk").first()
    assert (held.status, newer.status) == ("held", "applied")
    runs = SyncRun.objects.count()
    refused = admin.post(f"/console/{synced.slug}/sync/{held.pk}/decide/", {"decision": "confirm"})
    assert refused.status_code == 409 and f"run {newer.pk} applied newer files".encode() in refused.content
    assert SyncRun.objects.count() == runs, "no run started"
    assert SyncRun.objects.get(pk=held.pk).status == "held"
    assert Account.objects.filter(state="ready_to_revoke").count() == 0
    discarded = admin.post(f"/console/{synced.slug}/sync/{held.pk}/decide/", {"decision": "discard"})
    assert discarded.status_code == 302 and SyncRun.objects.get(pk=held.pk).status == "discarded"


def test_generate_preview_job_report_and_notifications(admin, synced, cli):
    cli("group", "add", synced.slug, "Parents", "--audience", "contact", "--usernames", "chosen", "--json")
    groups = admin.get(f"/console/{synced.slug}/generate/")
    group_id = int(re.search(rb"/generate/(\d+)/", groups.content).group(1))
    preview = admin.get(f"/console/{synced.slug}/generate/{group_id}/")
    assert preview.status_code == 200 and preview.content.count(b"will be created") >= 4
    assert b": 4 will be created, 0 already have one." in preview.content
    started = admin.post(f"/console/{synced.slug}/generate/{group_id}/start/")
    job_id = int(started["Location"].rstrip("/").split("/")[-1])
    from schoolgate.jobs.runner import run_job

    run_job(job_id)
    progress = admin.get(started["Location"], HTTP_HX_REQUEST="true")
    assert b'id="job-status">done' in progress.content
    pdf = admin.get(f"/console/{synced.slug}/jobs/{job_id}/report.pdf")
    text = PdfReader(io.BytesIO(b"".join(pdf.streaming_content))).pages[0].extract_text()
    assert "Created 4" in text
    bell = admin.get(f"/console/{synced.slug}/notifications/")
    assert b'id="unread">1<' in bell.content
    for junk in ("abc", "\u00b2", ""):  # a form anyone can edit: an id that is no number marks nothing read
        marked = admin.post(f"/console/{synced.slug}/notifications/", {"id": junk})
        assert marked.status_code == 302 and Notification.objects.filter(read_at__isnull=True).count() == 1
    admin.post(f"/console/{synced.slug}/notifications/", {"all": "1"})
    assert Notification.objects.filter(read_at__isnull=True).count() == 0
    other = make_district("other")
    assert admin.get(f"/console/{other.slug}/jobs/{job_id}/").status_code == 404, "a job of another district"
    assert admin.get(f"/console/{other.slug}/jobs/{job_id}/report.pdf").status_code == 404


def test_the_polled_job_page_says_done_only_with_the_report_links(admin, synced, cli, monkeypatch):
    """The page stops polling at the first response that says "done", so that response must carry the PDF and
    CSV links: polled while the job writes its report, it still says running (and keeps polling)."""
    from schoolgate.accounts import generation
    from schoolgate.jobs import runner

    cli("group", "add", synced.slug, "Parents", "--audience", "contact", "--usernames", "chosen", "--json")
    group_id = int(
        re.search(rb"/generate/(\d+)/", admin.get(f"/console/{synced.slug}/generate/").content).group(1)
    )
    url = admin.post(f"/console/{synced.slug}/generate/{group_id}/start/")["Location"]
    polls = []
    kind, write_reports = runner.KINDS[generation.KIND], runner.write_reports

    def report_while_polled(job):
        polls.append(admin.get(url, HTTP_HX_REQUEST="true").content)
        return kind.report(job)

    def write_while_polled(*args):
        written = write_reports(*args)
        polls.append(admin.get(url, HTTP_HX_REQUEST="true").content)  # the files exist, not yet recorded
        return written

    monkeypatch.setitem(runner.KINDS, generation.KIND, dataclasses.replace(kind, report=report_while_polled))
    monkeypatch.setattr(runner, "write_reports", write_while_polled)
    runner.run_job(int(url.rstrip("/").split("/")[-1]))
    polls.append(admin.get(url, HTTP_HX_REQUEST="true").content)
    for page in polls:
        if b'id="job-status">done' in page:
            assert b"report.pdf" in page and b"report.csv" in page and b"hx-trigger" not in page
        else:
            assert b'id="job-status">running' in page and b"hx-trigger" in page, "still polling"
    assert b"the report is being written" in polls[0] and b'id="job-status">done' in polls[-1]
    full = admin.get(url).content
    assert full.count(b'id="progress"') == 1 and b"report.csv" in full


def test_doctor_page_applies_a_fix(admin, synced):
    page = admin.get(f"/console/{synced.slug}/doctor/", {"person": "p1"})
    assert b"not_provisioned" in page.content and b"Apply fix" in page.content
    assert b"schoolgate " not in page.content, "a fix the console applies needs no command line"
    applied = admin.post(f"/console/{synced.slug}/doctor/", {"person": "p1", "apply": "not_provisioned"})
    assert applied.status_code == 200 and b"Applied: provision" in applied.content
    assert Account.objects.get(person__sis_code="p1").state == "invited"
    assert admin.get(f"/console/{synced.slug}/doctor/", {"person": "nobody"}).status_code == 400


def test_audit_log_search_and_dashboard(admin, synced, cli):
    cli("provision", synced.slug, "p0", "--json")
    log = admin.get(f"/console/{synced.slug}/audit/", {"action": "account.provisioned", "target": "p0"})
    assert log.status_code == 200 and log.content.count(b"<td>account.provisioned</td>") == 1
    assert b"No events match" in admin.get(f"/console/{synced.slug}/audit/", {"actor": "nobody"}).content
    assert admin.get(f"/console/{synced.slug}/audit/", {"since": "not-a-date"}).status_code == 400
    dashboard = admin.get(f"/console/{synced.slug}/")
    assert (
        dashboard.status_code == 200
        and b"<svg" in dashboard.content
        and b"ready_to_provision" in dashboard.content
    )
    assert admin.get("/console/nowhere/").status_code == 404


def test_transfer_from_the_person_page(admin, synced, cli):
    from schoolgate.accounts import lifecycle

    cli("provision", synced.slug, "p0", "--json")
    lifecycle.activate_account(
        Account.objects.get(person__sis_code="p0"), username="pat", password="x" * 12, actor="t"
    )
    # p0's login is in use and no sync matched p0 and p1: a mistyped code must not hand it over unasked.
    refused = admin.post(f"/console/{synced.slug}/people/p0/transfer/", {"to": "p1"})
    assert refused.status_code == 400 and b"no sync found p1 to be the same person" in refused.content
    assert Account.objects.get(person__sis_code="p0").username == "pat"
    response = admin.post(f"/console/{synced.slug}/people/p0/transfer/", {"to": "p1", "same_person": "yes"})
    assert response.status_code == 302 and response["Location"].endswith("/people/p1/")
    moved = Account.objects.get(person__sis_code="p1")
    assert (moved.state, moved.username) == ("active", "pat"), "p1 had no login of its own: the login moved"
    assert AuditEvent.objects.filter(action="account.transferred_in", actor="admin:ada@example.org").exists()
    again = admin.post(f"/console/{synced.slug}/people/p0/transfer/", {"to": "p2"})
    assert again.status_code == 400 and b"no login to transfer" in again.content


def test_a_run_of_the_same_files_says_so_and_links_the_run_it_repeats(admin, synced, cli, tmp_path):
    first = SyncRun.objects.get(district=synced)
    again = cli("sync", synced.slug, tmp_path / "set", "--json").json
    page = admin.get(f"/console/{synced.slug}/sync/{again['run']}/").content.decode()
    assert "same files as" in page and f'href="/console/{synced.slug}/sync/{first.pk}/"' in page
    assert "same files as" not in admin.get(f"/console/{synced.slug}/sync/{first.pk}/").content.decode()
