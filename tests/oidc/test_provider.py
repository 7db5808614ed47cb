"""The provider's plumbing: discovery, keys, client registration, shadow users, and the cost of the
revocation hook when nobody uses OIDC."""

from __future__ import annotations

import stat

from django.conf import settings
from django.contrib.auth.backends import ModelBackend

from schoolgate.oidc.models import OidcClient, OidcIdentity
from schoolgate.oidc.revocation import revoke_for_changed_accounts
from tests.oidc.conftest import ALL_SCOPES, authorize_url, code_from, consent, pkce_pair, portal_log_in


def test_discovery_document(client, db):
    doc = client.get("/oauth/.well-known/openid-configuration").json()
    base = f"{settings.SCHOOLGATE_BASE_URL}/oauth"
    assert doc["issuer"] == base
    assert doc["authorization_endpoint"].endswith("/oauth/authorize/")
    assert doc["token_endpoint"].endswith("/oauth/token/")
    assert doc["userinfo_endpoint"].endswith("/oauth/userinfo/")
    assert doc["jwks_uri"].endswith("/oauth/.well-known/jwks.json")
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"], "every client's ID tokens are RS256"
    assert set(ALL_SCOPES.split()) <= set(doc["scopes_supported"])
    assert {"sub", "kind", "district", "students"} <= set(doc["claims_supported"])
    assert doc["response_types_supported"] == ["code"]
    keys = client.get("/oauth/.well-known/jwks.json").json()["keys"]
    assert [k["kty"] for k in keys] == ["RSA"] and "d" not in keys[0], "the public half only"


def test_the_signing_key_is_generated_once_and_private(db):
    key_file = settings.VAR_DIR / "oidc_rsa_key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text() == settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]


def test_add_and_list_clients(cli, district):
    added = cli("oidc", "add-client", district.slug, "--name", "Homework", "--redirect-uri",
                "https://a.example/cb", "--redirect-uri", "https://b.example/cb", "--json")  # fmt: skip
    assert added.code == 0, added.stderr
    secret = added.json["client_secret"]
    client = OidcClient.objects.select_related("application").get(district=district)
    assert client.application.client_secret != secret, "stored hashed"
    assert added.json["client"]["redirect_uris"] == ["https://a.example/cb", "https://b.example/cb"]
    public = cli("oidc", "add-client", district.slug, "--name", "Mobile", "--redirect-uri", "https://m.example/cb",
                 "--public", "--json").json  # fmt: skip
    assert "client_secret" not in public and public["client"]["client_type"] == "public"

    listed = cli("oidc", "list-clients", district.slug, "--json")
    assert [c["name"] for c in listed.json["clients"]] == ["Homework", "Mobile"]
    assert secret not in listed.stdout, "a secret is shown once, at registration"
    text = cli(
        "oidc", "add-client", district.slug, "--name", "Text", "--redirect-uri", "https://t.example/cb"
    )
    assert "client_id: " in text.stdout and "client_secret: " in text.stdout


def test_add_client_rejects_bad_input(cli, district):
    bad = cli(
        "oidc", "add-client", district.slug, "--name", "X", "--redirect-uri", "ftp://x.example/", "--json"
    )
    assert bad.code == 1 and "error" in bad.json
    assert (
        cli("oidc", "add-client", "nowhere", "--name", "X", "--redirect-uri", "https://x.example/").code == 1
    )
    assert cli("oidc", "add-client", district.slug, "--name", "X").code == 2, "a redirect URI is required"
    assert not OidcClient.objects.exists()


def test_shadow_users_can_never_use_the_console(client, district, guardian, oidc_client):
    portal_log_in(client, district, guardian.username)
    _, challenge = pkce_pair()
    code_from(consent(client, authorize_url(oidc_client["client_id"], challenge)))
    shadow = OidcIdentity.objects.get(district=district, account=guardian.account).user
    assert not (shadow.is_active or shadow.is_staff or shadow.is_superuser or shadow.has_usable_password())
    assert not shadow.email and shadow.username.startswith("oidc.")
    assert ModelBackend().authenticate(None, username=shadow.username, password="") is None
    console = client.__class__()
    console.force_login(shadow, backend="django.contrib.auth.backends.ModelBackend")
    response = console.get("/console/")
    assert response.status_code == 302 and response["Location"].startswith("/console/login/")


def test_the_revocation_hook_costs_one_query_when_nobody_uses_oidc(district, django_assert_num_queries):
    with django_assert_num_queries(1):
        revoke_for_changed_accounts(district.pk, "SELECT %s AS account_id", [1])
