"""A form is shown only to admins whose level may send it: a read-only admin (an Auditor) reads the account
list, a person, the sync runs and a held run without any form that would end in "not allowed" (403), and a
level with the permission sees each one. Each form is checked against the permission its own view requires,
so that a form and its view cannot drift apart."""

from __future__ import annotations

import re

import pytest

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from schoolgate.accounts.overrides import set_override
from schoolgate.admins import roles
from schoolgate.admins.authz import permissions_of
from schoolgate.admins.models import ServiceRole
from schoolgate.console.views import accounts, people, sync
from schoolgate.sync.engine import run_sync
from schoolgate.sync.models import SyncRun
from tests.builders import write_oneroster
from tests.factories import log_in_admin, make_admin

ORGS = [{"sourcedId": "north", "name": "North High", "type": "school"}]


def families(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        rows += [
            {"sourcedId": f"k{i}", "role": "student", "orgSourcedIds": "north", "agentSourcedIds": f"p{i}",
             "givenName": "Kit", "familyName": f"Kid{i:02d}"},
            {"sourcedId": f"p{i}", "role": "parent", "orgSourcedIds": "north", "givenName": "Pat",
             "familyName": f"Parent{i:02d}", "email": f"p{i}@example.org"},
        ]  # fmt: skip
    return rows


@pytest.fixture
def held(cli, district, tmp_path, settings) -> SyncRun:
    """Four families with active logins, an override in force, and a held run (three families left at once)."""
    settings.SCHOOLGATE_REPORTS_DIR = tmp_path / "reports"
    cli("sync", district.slug, write_oneroster(tmp_path / "all", users=families(4), orgs=ORGS), "--json")
    cli("provision", district.slug, "--all", "--json")
    for account in Account.objects.filter(district=district):
        lifecycle.activate_account(account, username=account.person.sis_code, password="x" * 12, actor="test")
    set_override(district, contact="p0", student="k0", field="reports", value=False, reason="court order",
                 actor="test")  # fmt: skip
    run_sync(district, write_oneroster(tmp_path / "left", users=families(1), orgs=ORGS), actor="test")
    run = SyncRun.objects.filter(district=district).latest("pk")
    assert run.status == "held"
    return run


def _service_level() -> str:
    ServiceRole.objects.create(
        key="sis-bridge", name="SIS bridge", permissions=[roles.SYNC_VIEW, roles.SYNC_RUN]
    )
    return roles.SERVICE_PREFIX + "sis-bridge"


def forms_posting_to(response, url: str) -> int:
    return len(re.findall(rf'<form method="post" action="{re.escape(url)}"', response.content.decode()))


@pytest.mark.parametrize(
    "role", [roles.AUDITOR, roles.SUPPORT_ROLE, roles.SCHOOL_ADMIN, roles.PRIMARY, "service"]
)
def test_each_form_is_shown_exactly_to_the_levels_its_view_admits(client, district, held, role):
    if role == "service":
        role = _service_level()
    allowed = permissions_of(role, district)
    log_in_admin(
        client,
        make_admin(district, "lee@example.org", role, ("north",) if role == roles.SCHOOL_ADMIN else ()),
    )
    base = f"/console/{district.slug}"
    # (page, the form's action, the view that handles it, how many such forms the page has for a Primary)
    cases = [
        (f"{base}/accounts/", f"{base}/accounts/action/", accounts.account_action, 1),
        (f"{base}/people/p0/", f"{base}/people/p0/transfer/", people.transfer, 1),
        # Set override, and Remove beside the override in force.
        (f"{base}/people/p0/", f"{base}/people/p0/override/", people.override, 2),
        (f"{base}/sync/", f"{base}/sync/upload/", sync.upload, 1),
        (f"{base}/sync/{held.pk}/", f"{base}/sync/{held.pk}/decide/", sync.decide, 1),
    ]
    checked = 0
    for page, action, view, count in cases:
        response = client.get(page)
        if response.status_code == 403:  # the page itself is not theirs (the access tests cover that)
            continue
        assert response.status_code == 200, (role, page)
        may = view.required_permission in allowed
        assert forms_posting_to(response, action) == (count if may else 0), (role, action)
        checked += 1
    assert checked >= 2, "every level here reads at least the sync pages or the accounts"


def test_an_auditor_sees_no_form_that_would_be_refused(client, district, held):
    log_in_admin(client, make_admin(district, "audrey@example.org", roles.AUDITOR))
    base = f"/console/{district.slug}"
    listing = client.get(f"{base}/accounts/").content.decode()
    assert "/accounts/action/" not in listing and 'name="account"' not in listing, "no form, no ticks"
    assert "Parent00" in listing, "the list itself is there"
    person = client.get(f"{base}/people/p0/").content.decode()
    for gone in ("Transfer login", "Set override", ">Remove</button>", 'method="post"'):
        assert gone not in person.split("<main>", 1)[1], gone
    assert "court order" in person, "the override in force is still shown"
    assert "/doctor/" not in person.split("<main>", 1)[1], "no Diagnose link either: the doctor is not theirs"
    sync_page = client.get(f"{base}/sync/").content.decode()
    assert "Upload and sync" not in sync_page and "for admins whose level may run syncs" in sync_page
    run_page = client.get(f"{base}/sync/{held.pk}/").content.decode()
    assert "Confirm and apply" not in run_page and "Discard</button>" not in run_page
    assert "may run syncs" in run_page, "says who can decide instead"


def test_a_billing_admins_dashboard_links_no_account_list(client, district, held):
    """The dashboard's states link to the account list, which a billing admin may not open."""
    log_in_admin(client, make_admin(district, "bill@example.org", roles.BILLING))
    dashboard = client.get(f"/console/{district.slug}/").content.decode()
    assert "active" in dashboard and f"/console/{district.slug}/accounts/" not in dashboard
