"""The doctor finds a revoked login by the username it had: revoking clears the username, and the account.revoked
audit event's `before` snapshot is the record of who held it. Through every door (function, CLI, API, console),
case-insensitively, within the district only, the live holder first and the latest revocation otherwise."""

from __future__ import annotations

import pytest

from schoolgate.accounts import lifecycle
from schoolgate.accounts.doctor import diagnose
from schoolgate.accounts.doctor.diagnose import account_for_username
from schoolgate.accounts.models import Account
from schoolgate.admins import roles
from schoolgate.core.models import District
from tests.api.conftest import EVERYTHING, Api, token_for
from tests.builders import write_oneroster
from tests.factories import log_in_admin, make_admin, make_district

ORGS = [{"sourcedId": "north", "type": "school"}]


def users(prefix: str) -> list[dict]:
    rows = []
    for code in ("ann", "bob"):
        rows += [
            {"sourcedId": f"{prefix}{code}kid", "role": "student", "orgSourcedIds": "north",
             "agentSourcedIds": f"{prefix}{code}", "givenName": "Kid", "familyName": code.title()},
            {"sourcedId": f"{prefix}{code}", "role": "parent", "orgSourcedIds": "north", "givenName": code.title(),
             "familyName": "Parent", "email": f"{prefix}{code}@example.org"},
        ]  # fmt: skip
    return rows


def synced(cli, tmp_path, slug: str, prefix: str = "") -> District:
    district = make_district(slug, name=slug.title())
    cli("district", "set", slug, "--guard-minimum", "50", "--json")
    result = cli("sync", slug, write_oneroster(tmp_path / slug, users=users(prefix), orgs=ORGS), "--json")
    assert result.code == 0, result.stdout + result.stderr
    return district


def activate(district: District, code: str, username: str) -> Account:
    account = Account.objects.get(district=district, person__sis_code=code)
    if account.state == "ready_to_provision":
        lifecycle.provision_account(account, actor="test")
    return lifecycle.activate_account(account, username=username, password="a long passphrase", actor="test")


def revoke(district: District, code: str) -> None:
    lifecycle.revoke_account(Account.objects.get(district=district, person__sis_code=code), actor="test")


def codes(doc: dict) -> list[str]:
    return [f["code"] for f in doc["findings"]]


@pytest.fixture
def north(cli, tmp_path):
    return synced(cli, tmp_path, "north")


def test_a_revoked_login_is_found_by_its_old_username_like_by_email(north):
    activate(north, "ann", "WEdwards")
    revoke(north, "ann")
    assert Account.objects.get(person__sis_code="ann").username is None
    by_email = diagnose(north, email="ann@example.org").as_dict()
    assert codes(by_email) == ["revoked"]
    for typed in ("WEdwards", "wedwards", " WEDWARDS "):
        assert diagnose(north, username=typed).as_dict() == by_email, typed


def test_the_live_holder_comes_first_then_the_latest_revocation(north):
    activate(north, "ann", "wedwards")
    revoke(north, "ann")
    activate(north, "bob", "wedwards")  # the name is free again and someone else took it
    assert diagnose(north, username="wedwards").subjects == ["bob"]
    revoke(north, "bob")
    # Both revocations held the name; bob's is the latest.
    assert account_for_username(north, "wedwards").person.sis_code == "bob"
    assert codes(diagnose(north, username="wedwards").as_dict()) == ["revoked"]


def test_another_districts_revocation_is_not_found(cli, tmp_path, north):
    south = synced(cli, tmp_path, "south", prefix="s")
    activate(south, "sann", "wedwards")
    revoke(south, "sann")
    assert account_for_username(north, "wedwards") is None
    assert codes(diagnose(north, username="wedwards").as_dict()) == ["unknown_user"]
    assert diagnose(south, username="wedwards").subjects == ["sann"]


def test_every_door_reports_the_revoked_login(cli, client, north):
    activate(north, "ann", "wedwards")
    revoke(north, "ann")

    result = cli("doctor", "north", "--username", "wedwards", "--json")
    assert result.code == 0 and codes(result.json) == ["revoked"], result.stdout + result.stderr

    api = Api(client, token_for(north, EVERYTHING))
    response = api.get("/doctor", data={"username": "wedwards"})
    assert response.status_code == 200 and codes(response.json()) == ["revoked"], response.content

    log_in_admin(client, make_admin(north, "pat@example.org", roles.PRIMARY))
    page = client.get("/console/north/doctor/", {"username": "wedwards"})
    assert page.status_code == 200 and page.context["report"].subjects == ["ann"]
    assert codes(page.context["report"].as_dict()) == ["revoked"]


def test_the_revoked_holder_costs_one_statement_after_the_live_lookup(north, django_assert_num_queries):
    activate(north, "ann", "wedwards")
    revoke(north, "ann")
    with django_assert_num_queries(2) as captured:  # the live username, then the revocation with its account
        assert account_for_username(north, "WEDWARDS").person.sis_code == "ann"
    assert "account.revoked" in captured.captured_queries[1]["sql"]
