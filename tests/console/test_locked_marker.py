"""The account list marks a portal login that is locked now (after failed logins) with the time the lock ends,
read from the row the page already has: no query per row, and no query more for a page of locked logins."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from schoolgate.accounts.models import Account
from tests.builders import write_oneroster
from tests.factories import log_in_admin, make_admin

ORGS = [{"sourcedId": "north", "name": "North High", "type": "school"}]
USERS = [
    {"sourcedId": f"k{i}", "role": "student", "orgSourcedIds": "north", "familyName": f"Kid{i}"}
    for i in range(4)
]


@pytest.fixture
def admin(client, district, cli, tmp_path):
    cli("sync", district.slug, write_oneroster(tmp_path / "set", users=USERS, orgs=ORGS), "--json")
    log_in_admin(client, make_admin(district))
    return client


def lock(district, code: str, until) -> Account:
    account = Account.objects.get(district=district, person__sis_code=code)
    account.failed_logins, account.locked_until = 5, until
    account.save(update_fields=["failed_logins", "locked_until"])
    return account


def row_of(response, account: Account) -> str:
    found = re.search(rb'<tr data-account="%d">(.*?)</tr>' % account.pk, response.content, re.S)
    assert found, "the account is listed"
    return re.sub(r"\s+", " ", found.group(1).decode())


def test_a_locked_login_is_marked_with_when_the_lock_ends(admin, district):
    now = timezone.now()
    locked = lock(district, "k0", now + timedelta(minutes=12))
    lapsed = lock(district, "k1", now - timedelta(minutes=1))
    never = Account.objects.get(district=district, person__sis_code="k2")
    url = f"/console/{district.slug}/accounts/"
    for response in (admin.get(url), admin.get(url, HTTP_HX_REQUEST="true")):
        assert response.status_code == 200
        marked = row_of(response, locked)
        assert "locked" in marked
        ends = timezone.localtime(locked.locked_until)
        assert f"{ends:%Y-%m-%d %H:%M}" in marked, "when the lock ends (as the doctor says it)"
        assert "locked" not in row_of(response, lapsed), "a lock that has ended is not shown"
        assert "locked" not in row_of(response, never)


def test_the_marker_costs_no_query(admin, district):
    url = f"/console/{district.slug}/accounts/"

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin.get(url, HTTP_HX_REQUEST="true").status_code == 200
        return len(captured.captured_queries)

    before = queries()
    for code in ("k0", "k1", "k2", "k3"):
        lock(district, code, timezone.now() + timedelta(minutes=15))
    response = admin.get(url, HTTP_HX_REQUEST="true")
    assert response.content.count(b">locked<") == 4, "every row marked"
    assert queries() == before
