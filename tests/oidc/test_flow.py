"""The authorization-code flow with PKCE, end to end through the real portal login and the toolkit's views:
ID token signed with the published key, claims that show a guardian only their permitted children and
sections, userinfo, refresh — and tokens that die with the account."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from jwcrypto import jwk, jwt

from schoolgate.accounts import lifecycle, passwords
from schoolgate.accounts.models import Account
from schoolgate.accounts.overrides import set_override
from schoolgate.accounts.portal_data import visible_students
from schoolgate.people.models import SECTIONS
from tests.factories import make_district
from tests.oidc.conftest import (
    ALL_SCOPES,
    PASSWORD,
    authorize_url,
    code_from,
    consent,
    exchange,
    make_guardian,
    pkce_pair,
    portal_log_in,
    token_request,
    userinfo,
)


def full_flow(client, district, guardian, oidc_client, scope: str = ALL_SCOPES) -> dict:
    verifier, challenge = pkce_pair()
    url = authorize_url(oidc_client["client_id"], challenge, scope=scope)
    sent = client.get(url)
    assert sent.status_code == 302, "no portal session yet: off to the portal login"
    login = urlparse(sent["Location"])
    assert login.path == f"/portal/{district.slug}/login/", "the login of the client's district"
    assert parse_qs(login.query)["next"] == [url], "and back to this very request afterwards"
    back = portal_log_in(client, district, guardian.username, next_url=url)
    assert back.status_code == 302 and back["Location"] == url, "the portal login honours next"
    code = code_from(consent(client, url))
    response = exchange(client, oidc_client, code, verifier)
    assert response.status_code == 200, response.content
    return response.json()


def verified_claims(client, id_token: str) -> dict:
    keys = jwk.JWKSet.from_json(client.get("/oauth/.well-known/jwks.json").content)
    token = jwt.JWT(jwt=id_token, key=keys, algs=["RS256"])  # raises unless the signature verifies
    import json

    return json.loads(token.claims)


def test_a_guardian_signs_in_to_an_app_and_it_sees_only_their_permitted_children(
    client, district, guardian, oidc_client
):
    tokens = full_flow(client, district, guardian, oidc_client)
    assert {"access_token", "refresh_token", "id_token"} <= tokens.keys()

    claims = verified_claims(client, tokens["id_token"])
    assert claims["iss"] == f"{settings.SCHOOLGATE_BASE_URL}/oauth"
    assert claims["aud"] == oidc_client["client_id"] and claims["nonce"] == "nonce-456"
    assert claims["kind"] == "contact" and claims["district"] == district.slug
    assert claims["preferred_username"] == "guardian" and claims["email"] == "guardian@example.org"
    assert claims["name"] == guardian.account.person.display_name
    first, second = guardian.children
    by_id = {s["id"]: s for s in claims["students"]}
    assert set(by_id) == {first.sis_code, second.sis_code}
    assert by_id[first.sis_code]["sections"] == SECTIONS
    assert by_id[second.sis_code]["sections"] == [s for s in SECTIONS if s != "reports"], "override applies"
    portal = {s.code: s.sections for s in visible_students(guardian.account)}
    assert {code: s["sections"] for code, s in by_id.items()} == portal, "exactly what the portal shows"

    info = userinfo(client, tokens["access_token"])
    assert info.status_code == 200, info.content
    body = info.json()
    assert body["sub"] == claims["sub"], "one stable subject in ID token and userinfo"
    assert body["students"] == claims["students"] and body["kind"] == "contact"

    # A second sign-in gives the same subject: it is per account, not per token or session.
    again = full_flow(client.__class__(), district, guardian, oidc_client)
    assert verified_claims(client, again["id_token"])["sub"] == claims["sub"]

    refreshed = token_request(
        client, grant_type="refresh_token", refresh_token=tokens["refresh_token"], **oidc_client
    )
    assert refreshed.status_code == 200, refreshed.content


def test_scopes_limit_the_claims(client, district, guardian, oidc_client):
    tokens = full_flow(client, district, guardian, oidc_client, scope="openid")
    claims = verified_claims(client, tokens["id_token"])
    assert {"sub", "kind", "district"} <= claims.keys()
    assert not {"students", "email", "name"} & claims.keys(), "only what the granted scopes release"


def test_revoking_the_account_ends_its_tokens(client, district, guardian, oidc_client):
    tokens = full_flow(client, district, guardian, oidc_client)
    assert userinfo(client, tokens["access_token"]).status_code == 200

    lifecycle.revoke_account(guardian.account, actor="test")

    assert userinfo(client, tokens["access_token"]).status_code == 401
    refused = token_request(
        client, grant_type="refresh_token", refresh_token=tokens["refresh_token"], **oidc_client
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    from oauth2_provider.models import AccessToken, RefreshToken

    user = guardian.account.oidc_identity.user
    assert not AccessToken.objects.filter(user=user).exists(), "deleted in the revocation's transaction"
    assert not RefreshToken.objects.filter(user=user).exists()


def test_a_password_change_ends_tokens_minted_before_it(client, district, guardian, oidc_client):
    tokens = full_flow(client, district, guardian, oidc_client)
    passwords.change_password(guardian.account, PASSWORD, "another long passphrase")
    assert userinfo(client, tokens["access_token"]).status_code == 401
    from oauth2_provider.models import AccessToken

    assert not AccessToken.objects.filter(user=guardian.account.oidc_identity.user).exists()
    refused = token_request(
        client, grant_type="refresh_token", refresh_token=tokens["refresh_token"], **oidc_client
    )
    assert refused.status_code == 400


def test_the_validator_refuses_a_token_whose_credentials_moved_on_by_any_path(
    client, district, guardian, oidc_client
):
    tokens = full_flow(client, district, guardian, oidc_client)
    # Bypass every domain function (and so the changes subscriber): the validator alone must refuse.
    Account.objects.filter(district=district, pk=guardian.account.pk).update(credentials_version=99)
    assert userinfo(client, tokens["access_token"]).status_code == 401


def test_pkce_is_required(client, district, guardian, oidc_client):
    portal_log_in(client, district, guardian.username)
    refused = client.get(authorize_url(oidc_client["client_id"], challenge=None))
    assert refused.status_code == 302
    query = parse_qs(urlparse(refused["Location"]).query)
    assert query["error"] == ["invalid_request"], "no code_challenge: no code"

    _, challenge = pkce_pair()
    code = code_from(consent(client, authorize_url(oidc_client["client_id"], challenge)))
    missing = exchange(client, oidc_client, code, verifier=None)
    assert missing.status_code == 400, "no code_verifier: no token"
    wrong = exchange(client, oidc_client, code, verifier="x" * 50)
    assert wrong.status_code == 400 and "access_token" not in wrong.json()


def test_an_account_of_another_district_cannot_authorize_a_client(client, district, guardian, cli):
    other = make_district()
    registered = cli("oidc", "add-client", other.slug, "--name", "Other app", "--redirect-uri",
                     "https://homework.example/callback", "--public", "--json")  # fmt: skip
    client_id = registered.json["client"]["client_id"]
    portal_log_in(client, district, guardian.username)
    _, challenge = pkce_pair()
    url = authorize_url(client_id, challenge)
    refused = client.get(url)
    assert refused.status_code == 403 and b"access_denied" in refused.content
    assert f"/portal/{other.slug}/login/".encode() in refused.content, "offers the right district's login"
    forged = client.post("/oauth/authorize/", {"client_id": client_id, "redirect_uri": "https://homework.example/callback",
                                               "response_type": "code", "scope": "openid", "allow": "Authorize",
                                               "code_challenge": challenge, "code_challenge_method": "S256"})  # fmt: skip
    assert forged.status_code == 403, "a forged consent is refused too"
    from oauth2_provider.models import Grant

    assert not Grant.objects.exists()


def test_an_unknown_client_is_refused_without_redirecting(client, db):
    response = client.get(authorize_url("no-such-client", "x" * 43))
    assert response.status_code == 400


def test_prompt_none_without_a_portal_session_answers_login_required(client, district, oidc_client, guardian):
    _, challenge = pkce_pair()
    response = client.get(authorize_url(oidc_client["client_id"], challenge, prompt="none"))
    assert response.status_code == 302
    assert parse_qs(urlparse(response["Location"]).query)["error"] == ["login_required"]

    portal_log_in(client, district, guardian.username)
    response = client.get(authorize_url(oidc_client["client_id"], challenge, prompt="none"))
    assert response.status_code == 302, "logged in, but never asked: no page may be shown"
    assert parse_qs(urlparse(response["Location"]).query)["error"] == ["consent_required"]


def test_a_guardian_of_one_district_and_another_of_the_second_each_get_their_own_subject(
    client, district, guardian, oidc_client, cli
):
    other = make_district()
    second = make_guardian(other, username="guardian")  # the same username, another district
    registered = cli("oidc", "add-client", other.slug, "--name", "Other", "--redirect-uri",
                     "https://homework.example/callback", "--json").json  # fmt: skip
    other_client = {
        "client_id": registered["client"]["client_id"],
        "client_secret": registered["client_secret"],
    }
    one = verified_claims(client, full_flow(client, district, guardian, oidc_client)["id_token"])
    two = verified_claims(client, full_flow(client.__class__(), other, second, other_client)["id_token"])
    assert one["sub"] != two["sub"] and (one["district"], two["district"]) == (district.slug, other.slug)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_the_portal_login_never_redirects_off_site(client, district, guardian, target):
    response = portal_log_in(client, district, guardian.username, next_url=target)
    assert response.status_code == 302 and response["Location"] == "/portal/students/"


def test_prompt_login_asks_for_the_password_again(client, district, guardian, oidc_client):
    portal_log_in(client, district, guardian.username)
    _, challenge = pkce_pair()
    response = client.get(authorize_url(oidc_client["client_id"], challenge, prompt="login"))
    assert response.status_code == 302
    login = urlparse(response["Location"])
    assert login.path == f"/portal/{district.slug}/login/"
    assert "prompt" not in parse_qs(urlparse(parse_qs(login.query)["next"][0]).query), (
        "asked once, not forever"
    )
    assert client.get("/portal/students/").status_code == 302, "the portal login itself was ended"


def test_losing_every_child_ends_tokens_before_any_admin_revokes(client, district, guardian, oidc_client):
    tokens = full_flow(client, district, guardian, oidc_client)
    contact = guardian.account.person.sis_code
    for child in guardian.children:  # the portal flag forced off: reconciliation flags the login
        set_override(district, contact=contact, student=child.sis_code, field="portal", value=False,
                     reason="court order", actor="test")  # fmt: skip
    guardian.account.refresh_from_db()
    assert guardian.account.state == "ready_to_revoke", "still holds credentials, but is no longer active"
    assert userinfo(client, tokens["access_token"]).status_code == 401
    from oauth2_provider.models import AccessToken

    assert not AccessToken.objects.filter(user=guardian.account.oidc_identity.user).exists()
