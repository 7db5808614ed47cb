"""`schoolgate admin|operator|token`: the same delegation functions from the server's shell, with --json and
the exit-code contract (1 = refused, nothing changed)."""

from __future__ import annotations

from schoolgate.admins import roles
from schoolgate.admins.models import AdminInvitation, AdminMembership, ApiToken
from schoolgate.admins.tokens import authenticate_token
from schoolgate.core.models import AuditEvent
from tests.factories import make_admin


def test_invite_list_change_and_remove(cli, district):
    make_admin(district, "pat@example.org", roles.PRIMARY)
    invited = cli("admin", "invite", district.slug, "sam@example.org", "--role", "auditor", "--json")
    assert invited.code == 0 and invited.json["role"] == "auditor"
    assert AdminInvitation.objects.filter(email="sam@example.org", used_at=None).count() == 1
    listing = cli("admin", "list", district.slug, "--json").json
    assert listing["admins"] == [{"email": "pat@example.org", "role": "primary", "schools": []}]
    assert [i["email"] for i in listing["invitations"]] == ["sam@example.org"]

    make_admin(district, "kim@example.org", roles.SUPPORT_ROLE)
    assert cli("admin", "role", district.slug, "kim@example.org", "--role", "billing", "--json").code == 0
    assert AdminMembership.objects.get(user__username="kim@example.org").role == roles.BILLING
    refused = cli("admin", "role", district.slug, "pat@example.org", "--role", "support", "--json")
    assert refused.code == 1 and "change request" in refused.stderr
    unknown = cli("admin", "role", district.slug, "kim@example.org", "--role", "wizard", "--json")
    assert unknown.code == 1 and "not a role" in unknown.stderr
    school = cli(
        "admin", "role", district.slug, "kim@example.org", "--role", "school_admin", "--school", "nope"
    )
    assert school.code == 1 and "no school 'nope'" in school.stderr
    assert cli("admin", "remove", district.slug, "kim@example.org", "--json").code == 0
    assert not AdminMembership.objects.filter(user__username="kim@example.org").exists()
    assert AuditEvent.objects.get(action="admin.removed").actor.startswith("cli:")


def test_primary_requests_are_decided_from_the_shell(cli, district):
    from schoolgate.admins.delegation import request_primary_change

    pat = make_admin(district, "pat@example.org", roles.PRIMARY)
    make_admin(district, "sam@example.org", roles.SUPPORT_ROLE)
    request = request_primary_change(district, pat, "sam@example.org", "handover", actor="test")
    pending = cli("admin", "primary-requests", "--pending", "--json").json["requests"]
    assert [r["id"] for r in pending] == [request.pk]
    done = cli("admin", "primary-decide", str(request.pk), "--approve", "--note", "ok", "--json")
    assert done.code == 0 and done.json["request"]["status"] == "approved"
    assert AdminMembership.objects.get(user__username="sam@example.org").role == roles.PRIMARY
    assert cli("admin", "primary-decide", str(request.pk), "--reject", "--json").code == 1


def test_operator_add_asks_for_a_strong_password(cli, monkeypatch, db):
    monkeypatch.setenv("SCHOOLGATE_OPERATOR_PASSWORD", "short")
    weak = cli("operator", "add", "olga@example.org", "--json")
    assert weak.code == 1 and "password" in weak.stderr
    monkeypatch.setenv("SCHOOLGATE_OPERATOR_PASSWORD", "a long operator passphrase")
    assert cli("operator", "add", "Olga@Example.org", "--json").json == {"operators": ["olga@example.org"]}
    assert cli("operator", "list", "--json").json == {"operators": ["olga@example.org"]}
    assert cli("operator", "add", "olga@example.org", "--json").code == 1


def test_tokens_are_shown_once_and_revocable(cli, district):
    created = cli("token", "create", district.slug, "--name", "SIS bridge", "--level", "auditor", "--scope", "api",
                  "--json")  # fmt: skip
    raw = created.json["token"]
    assert created.code == 0 and raw.startswith("sg_")
    stored = ApiToken.objects.get()
    assert raw not in (stored.token_hash, stored.prefix) and authenticate_token(raw, scope="api") is not None
    listed = cli("token", "list", district.slug, "--json").json["tokens"][0]
    assert "token" not in listed and listed["last_used_at"] is not None, (
        "listed with its last use, never the value"
    )
    assert cli("token", "revoke", district.slug, stored.prefix, "--json").code == 0
    assert authenticate_token(raw, scope="api") is None
    primary = cli("token", "create", district.slug, "--name", "x", "--level", "primary", "--json")
    assert primary.code == 1
