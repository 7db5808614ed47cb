"""The console's sync pages and the person page, as a school admin reads them: problems name the file they
uploaded, error pages lead back to the sync page, a run that was not applied says so, and people are named
as well as coded."""

from __future__ import annotations

import html
import io
import re
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from schoolgate.admins import roles
from schoolgate.console.views import sync as sync_views
from schoolgate.core import sql
from schoolgate.people.models import Person
from schoolgate.sync.engine import run_sync
from schoolgate.sync.models import SyncRun
from schoolgate.sync.uploads import store_upload
from tests.builders import write_oneroster
from tests.factories import log_in_admin, make_admin

ORGS = [{"sourcedId": "north", "name": "North High", "type": "school"},
        {"sourcedId": "south", "name": "South High", "type": "school"}]  # fmt: skip
NOT_A_ZIP = "is not a folder or a readable .zip file"
IN_A_FOLDER = "the CSV files sit in the folder 'inner/' instead of at the root of the zip file"


def families(school: str, n: int = 4) -> list[dict]:
    """n students of `school`, each with one parent; names start with the school's initial (N or S)."""
    s, S = school[0], school[0].upper()
    rows = []
    for i in range(n):
        rows += [
            {"sourcedId": f"{s}k{i}", "role": "student", "orgSourcedIds": school, "agentSourcedIds": f"{s}p{i}",
             "givenName": "Kit", "familyName": f"{S}Kid{i:02d}"},
            {"sourcedId": f"{s}p{i}", "role": "parent", "orgSourcedIds": school, "givenName": "Pat",
             "familyName": f"{S}Parent{i:02d}", "email": f"{s}p{i}@example.org"},
        ]  # fmt: skip
    return rows


def zipped(folder: Path, name: str = "export.zip", under: str = "") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in folder.iterdir():
            archive.write(path, f"{under}{path.name}")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/zip")


@pytest.fixture
def synced(cli, district, tmp_path, settings):
    """Eight families in two schools, every login active (so that most leaving at once trips the guard)."""
    settings.VAR_DIR = tmp_path / "var"
    settings.SCHOOLGATE_REPORTS_DIR = tmp_path / "reports"
    everyone = families("north") + families("south")
    cli("sync", district.slug, write_oneroster(tmp_path / "all", users=everyone, orgs=ORGS), "--json")
    cli("provision", district.slug, "--all", "--json")
    for account in Account.objects.filter(district=district):
        lifecycle.activate_account(account, username=account.person.sis_code, password="x" * 12, actor="test")
    return district


@pytest.fixture
def admin(client, synced):
    log_in_admin(client, make_admin(synced))
    return client


def url(district, name: str = "", run: SyncRun | None = None) -> str:
    base = f"/console/{district.slug}/sync/"
    return f"{base}{run.pk}/{name}" if run else f"{base}{name}"


def hold(admin, district, tmp_path) -> SyncRun:
    """Upload a set in which all but one family per school have left: held by the mass-revocation guard."""
    staying = families("north", 1) + families("south", 1)
    admin.post(url(district, "upload/"), {"file": zipped(write_oneroster(tmp_path / "left", users=staying, orgs=ORGS))})  # fmt: skip
    held = SyncRun.objects.filter(district=district).latest("pk")
    assert held.status == "held"
    return held


def links_in_page(response) -> list[str]:
    """Where the page's own links lead (the console's navigation, which links everywhere, left out)."""
    main = response.content.decode().split("<main>", 1)[1]
    return re.findall(r'href="([^"]+)"', main)


def text(response) -> str:
    """The page's text, tags removed and spaces collapsed, as a reader meets it."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


# -- 1. problems name the file the admin uploaded ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("fake.zip", b"not a zip at all", NOT_A_ZIP),
        ("SIS export (2).zip", b"not a zip at all", NOT_A_ZIP),
        ("nested.zip", None, IN_A_FOLDER),
    ],
)
def test_an_upload_problem_names_the_file_the_admin_uploaded(admin, synced, tmp_path, name, content, says):
    if content is None:  # a real set, zipped inside a folder: the set itself is fine, where it sits is not
        upload = zipped(write_oneroster(tmp_path / "set", users=families("north"), orgs=ORGS), name, "inner/")
    else:
        upload = SimpleUploadedFile(name, content, content_type="application/zip")
    response = admin.post(url(synced, "upload/"), {"file": upload})
    run = SyncRun.objects.filter(district=synced).latest("pk")
    assert run.status == "rejected"
    # The run's report (what the API returns as it is) and its page name the uploaded file, nothing else.
    assert [e["file"] for e in run.errors] == [name]
    page = text(admin.get(response["Location"]))
    assert f"{name}: {says}" in page and "Rejected: nothing of this run was applied" in page
    assert Path(run.source).name == name and Path(run.source).parent.name not in page


def test_an_upload_the_worker_reads_is_reported_under_its_uploaded_name(synced, settings, tmp_path):
    """The API (and a large console upload) store the file and hand the worker its path: the same name."""
    stored = store_upload(synced, SimpleUploadedFile("fake.zip", b"PK\x03\x04 but not a zip"))
    outcome = run_sync(synced, str(stored), actor="test")
    assert outcome.status == "rejected" and [e.file for e in outcome.errors] == ["fake.zip"]
    assert stored.is_relative_to(Path(settings.VAR_DIR) / "uploads" / synced.slug)


def test_uploads_of_the_same_name_are_kept_apart_and_cannot_leave_their_folder(synced, settings):
    uploads = Path(settings.VAR_DIR) / "uploads" / synced.slug
    first, second = (store_upload(synced, SimpleUploadedFile("export.zip", b"one")) for _ in range(2))
    assert first != second and (first.read_bytes(), second.read_bytes()) == (b"one", b"one")
    assert first.name == second.name == "export.zip"
    for given, kept in [("../../escape.zip", "escape.zip"), ("C:\\exports\\mine.zip", "mine.zip"),
                        ("..", "upload.zip"), ("", "upload.zip"), ("bad\x00\n\u202ename.zip", "badname.zip"),
                        ("é" * 200 + ".zip", "é" * 98 + ".zip")]:  # fmt: skip
        stored = store_upload(synced, _named(given))
        assert stored.name == kept and stored.parent.parent == uploads, given


def _named(name: str) -> SimpleUploadedFile:
    upload = SimpleUploadedFile("x.zip", b"x")
    upload._name = name  # past Django's own clean-up of the name, as a hostile client's raw form could be
    return upload


def test_the_cli_still_names_the_path_it_was_given(cli, district, tmp_path):
    local = tmp_path / "exports" / "fake.zip"
    local.parent.mkdir()
    local.write_bytes(b"not a zip at all")
    result = cli("sync", district.slug, str(local), "--json")
    assert result.code == 1 and [e["file"] for e in result.json["errors"]] == ["fake.zip"]


# -- 2. the upload's error pages lead back to the sync page --------------------------------------------------


def test_upload_error_pages_link_back_to_the_sync_page(admin, synced, monkeypatch):
    for posted in ({}, {"file": SimpleUploadedFile("users.csv", b"a,b\n")}):
        response = admin.post(url(synced, "upload/"), posted)
        assert response.status_code == 400 and links_in_page(response) == [url(synced)], posted
    monkeypatch.setattr(sync_views, "MAX_UPLOAD", 3)
    too_large = admin.post(url(synced, "upload/"), {"file": SimpleUploadedFile("big.zip", b"PK\x03\x04")})
    assert too_large.status_code == 400 and links_in_page(too_large) == [url(synced)]


def test_a_held_runs_error_pages_link_back_to_the_sync_page_or_the_run(admin, synced, tmp_path):
    held = hold(admin, synced, tmp_path)
    Path(held.source).unlink()
    gone = admin.post(url(synced, "decide/", held), {"decision": "confirm"})
    assert gone.status_code == 400 and links_in_page(gone) == [url(synced)]
    held = hold(admin, synced, tmp_path)
    admin.post(url(synced, "upload/"), {"file": zipped(write_oneroster(tmp_path / "again", users=families("north") + families("south"), orgs=ORGS))})  # fmt: skip
    newer = admin.post(url(synced, "decide/", held), {"decision": "confirm"})
    assert newer.status_code == 409 and links_in_page(newer) == [url(synced, "", held)]


# -- 3. a run that was not applied says so -------------------------------------------------------------------


def test_a_held_run_says_nothing_is_applied_until_confirmed(admin, synced, tmp_path):
    held = hold(admin, synced, tmp_path)
    page = text(admin.get(url(synced, "", held)))
    assert "Nothing of this run is applied until you confirm it" in page
    assert "was applied" not in page


def test_a_discarded_run_says_nothing_of_it_was_applied(admin, synced, tmp_path):
    held = hold(admin, synced, tmp_path)
    admin.post(url(synced, "decide/", held), {"decision": "discard"})
    page = text(admin.get(url(synced, "", held)))
    assert "Discarded: nothing of this run was applied" in page
    assert "ready_to_revoke 12" in page, "the counts stay, as what the run would have done"
    assert Account.objects.filter(district=synced, state="ready_to_revoke").count() == 0


def test_a_confirmed_run_says_which_run_applied_it(admin, synced, tmp_path):
    held = hold(admin, synced, tmp_path)
    admin.post(url(synced, "decide/", held), {"decision": "confirm"})
    applied = SyncRun.objects.filter(district=synced).latest("pk")
    page = admin.get(url(synced, "", held))
    assert f"Applied by run #{applied.pk} , which confirmed it" in text(page)
    assert url(synced, "", applied) in links_in_page(page)
    from django.template.defaultfilters import floatformat

    steps = ", ".join(f"{step} {floatformat(seconds, 1)} s" for step, seconds in applied.durations.items())
    assert f"Time per step: {steps}." in text(admin.get(url(synced, "", applied)))


# -- 4. students (and contacts) are named, not only coded ----------------------------------------------------


def test_the_person_page_names_the_linked_people(admin, synced):
    contact = text(admin.get(f"/console/{synced.slug}/people/np0/"))
    assert "Kit NKid00 (nk0)" in contact
    student = admin.get(f"/console/{synced.slug}/people/nk0/")
    assert "Pat NParent00 (np0)" in text(student)
    assert '<option value="np0">Pat NParent00 (np0)</option>' in student.content.decode()


def test_the_held_run_names_who_would_lose_access_in_one_query(admin, synced, tmp_path):
    held = hold(admin, synced, tmp_path)
    with CaptureQueriesContext(connection) as queries:
        page = text(admin.get(url(synced, "", held)))
    assert "Pat NParent03 (np3)" in page and "Pat SParent01 (sp1)" in page
    people = [q["sql"] for q in queries if f"FROM {sql.table(Person)} " in q["sql"]]
    assert len(people) == 1, people


def test_a_school_admin_sees_names_only_of_their_schools_people(client, synced, tmp_path):
    log_in_admin(client, make_admin(synced))
    held = hold(client, synced, tmp_path)
    log_in_admin(client, make_admin(synced, "sally@example.org", roles.SCHOOL_ADMIN, ("north",)))
    page = text(client.get(url(synced, "", held)))
    assert "Pat NParent03 (np3)" in page
    assert "sp3" in page and "SParent03" not in page, (
        "a code they already saw, but no name outside their schools"
    )


def test_a_long_held_list_shows_its_first_rows_and_says_how_many_more(admin, synced, tmp_path, monkeypatch):
    monkeypatch.setattr(sync_views, "DIFF_SHOWN", 5)
    held = hold(admin, synced, tmp_path)
    page = admin.get(url(synced, "", held))
    assert page.content.count(b"<tr><td>") == 5
    assert "and 7 more who would lose access, not listed here" in text(page)
