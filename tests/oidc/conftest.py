"""OIDC fixtures: an active guardian with two children (one with a section withheld by an override),
a registered client of the guardian's district, and a helper that drives the real authorization-code flow
with PKCE through the portal login."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account
from schoolgate.accounts.overrides import set_override
from schoolgate.accounts.reconcile import reconcile
from schoolgate.people.evaluation import evaluate_links, evaluate_people
from tests.factories import family

PASSWORD = "a long passphrase"
REDIRECT_URI = "https://homework.example/callback"
ALL_SCOPES = "openid profile email students"


@dataclass
class Guardian:
    account: Account
    username: str
    children: list  # Person rows, the second with "reports" withheld


def make_guardian(district, username: str = "guardian") -> Guardian:
    kids, (parent,) = family(district, children=2)
    parent.email = f"{username}@example.org"
    parent.save(update_fields=["email"])
    evaluate_links(district)
    evaluate_people(district)
    reconcile(district, actor="test")
    account = Account.objects.get(district=district, person=parent)
    lifecycle.provision_account(account, actor="test")
    lifecycle.activate_account(account, username=username, password=PASSWORD, actor="test")
    set_override(
        district, contact=parent.sis_code, student=kids[1].sis_code, field="reports", value=False,
        reason="court order: no school reports for this child", actor="test",
    )  # fmt: skip
    account.refresh_from_db()
    return Guardian(account=account, username=username, children=kids)


@pytest.fixture
def guardian(district) -> Guardian:
    return make_guardian(district)


@pytest.fixture
def oidc_client(cli, district) -> dict:
    """A confidential client of `district`, registered through the command line."""
    result = cli(
        "oidc",
        "add-client",
        district.slug,
        "--name",
        "Homework app",
        "--redirect-uri",
        REDIRECT_URI,
        "--json",
    )
    assert result.code == 0, result.stderr
    return {"client_id": result.json["client"]["client_id"], "client_secret": result.json["client_secret"]}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(client_id: str, challenge: str | None, scope: str = ALL_SCOPES, **extra: str) -> str:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "scope": scope,
              "state": "state-123", "nonce": "nonce-456", **extra}  # fmt: skip
    if challenge is not None:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return f"/oauth/authorize/?{urlencode(params)}"


def portal_log_in(http, district, username: str, next_url: str | None = None):
    url = f"/portal/{district.slug}/login/" + (f"?{urlencode({'next': next_url})}" if next_url else "")
    return http.post(url, {"identifier": username, "password": PASSWORD})


def consent(http, url: str, allow: bool = True):
    """GET the consent page and POST it back as the person's browser would."""
    page = http.get(url)
    if page.status_code == 302:  # allowed before with these scopes: no second question
        return page
    assert page.status_code == 200, page.content
    assert b"style=" not in page.content and b"<script" not in page.content, "nothing inline (CSP)"
    assert "'unsafe-inline'" not in page.get("Content-Security-Policy", "'self'")
    form = page.context["form"]
    data = {name: (form.initial.get(name) or "") for name in form.fields if name != "allow"}
    if allow:
        data["allow"] = "Authorize"
    return http.post("/oauth/authorize/", data)


def code_from(response) -> str:
    assert response.status_code == 302, response.content
    location = urlparse(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["state-123"]
    return query["code"][0]


def token_request(http, **fields: str):
    return http.post("/oauth/token/", urlencode(fields), content_type="application/x-www-form-urlencoded")


def exchange(http, client: dict, code: str, verifier: str | None):
    fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, **client}
    if verifier is not None:
        fields["code_verifier"] = verifier
    return token_request(http, **fields)


def userinfo(http, access_token: str):
    return http.get("/oauth/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access_token}")
