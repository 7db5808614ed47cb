"""`auth_time` and `max_age` (OIDC Core 1.0 §2, §3.1.2.1): the ID token says when the person logged in to the
portal — not when the token was issued — and `max_age` sends a person whose portal login is older than that
back to the login page before any code is issued.

The portal login time comes from the session: `portal_login_at` (epoch seconds, written by the portal's
`log_in`), or, for a login this provider asked for, no earlier than the moment it asked.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlparse

from jwcrypto import jwk, jwt

from tests.oidc.conftest import (
    authorize_url,
    code_from,
    consent,
    exchange,
    pkce_pair,
    portal_log_in,
)

LOGIN_AT = "portal_login_at"


def id_token_claims(client, tokens: dict) -> dict:
    keys = jwk.JWKSet.from_json(client.get("/oauth/.well-known/jwks.json").content)
    return json.loads(jwt.JWT(jwt=tokens["id_token"], key=keys, algs=["RS256"]).claims)


def stamp_login(client, seconds_ago: int) -> int:
    """What the portal's log_in records: when this session's portal login happened."""
    at = int(time.time()) - seconds_ago
    session = client.session
    session[LOGIN_AT] = at
    session.save()
    return at


def sent_to_login(response, district) -> bool:
    return response.status_code == 302 and urlparse(response["Location"]).path == (
        f"/portal/{district.slug}/login/"
    )


def tokens_for(client, oidc_client, url: str, verifier: str) -> dict:
    response = exchange(client, oidc_client, code_from(consent(client, url)), verifier)
    assert response.status_code == 200, response.content
    return response.json()


def test_auth_time_is_the_portal_login_not_the_token_issue(client, district, guardian, oidc_client):
    portal_log_in(client, district, guardian.username)
    logged_in_at = stamp_login(client, seconds_ago=3600)
    verifier, challenge = pkce_pair()

    tokens = tokens_for(client, oidc_client, authorize_url(oidc_client["client_id"], challenge), verifier)

    claims = id_token_claims(client, tokens)
    assert claims["auth_time"] == logged_in_at, "when the person logged in, an hour ago"
    assert claims["iat"] - claims["auth_time"] >= 3600


def test_max_age_older_than_the_login_sends_the_person_to_log_in_again(
    client, district, guardian, oidc_client
):
    portal_log_in(client, district, guardian.username)
    stamp_login(client, seconds_ago=12)
    verifier, challenge = pkce_pair()
    url = authorize_url(oidc_client["client_id"], challenge, max_age="1")

    response = client.get(url)

    assert sent_to_login(response, district), "no code for a login older than max_age"
    assert parse_qs(urlparse(response["Location"]).query)["next"] == [url], "and back to this request"
    assert client.get("/portal/students/").status_code == 302, "the old portal login was ended"

    before = int(time.time())
    back = portal_log_in(client, district, guardian.username, next_url=url)
    assert back.status_code == 302 and back["Location"] == url
    stamp_login(client, seconds_ago=0)  # what the portal's log_in records
    after = int(time.time())
    tokens = tokens_for(client, oidc_client, url, verifier)
    assert before <= id_token_claims(client, tokens)["auth_time"] <= after


def test_a_login_younger_than_max_age_is_used_as_it_is(client, district, guardian, oidc_client):
    portal_log_in(client, district, guardian.username)
    logged_in_at = stamp_login(client, seconds_ago=12)
    verifier, challenge = pkce_pair()

    tokens = tokens_for(
        client, oidc_client, authorize_url(oidc_client["client_id"], challenge, max_age="600"), verifier
    )

    assert id_token_claims(client, tokens)["auth_time"] == logged_in_at


def test_max_age_without_a_known_login_time_asks_for_a_login(client, district, guardian, oidc_client):
    """The portal session as the tester had it: logged in, no login time recorded, max_age=1."""
    portal_log_in(client, district, guardian.username)
    session = client.session
    session.pop(LOGIN_AT, None)
    session.save()
    verifier, challenge = pkce_pair()
    url = authorize_url(oidc_client["client_id"], challenge, max_age="1")
    asked_at = int(time.time())

    assert sent_to_login(client.get(url), district), "a login of unknown age is not known to be fresh"

    portal_log_in(client, district, guardian.username, next_url=url)
    logged_in = int(time.time())
    time.sleep(1.1)  # so that the token's issue time cannot pass for the login time
    tokens = tokens_for(client, oidc_client, url, verifier)
    auth_time = id_token_claims(client, tokens)["auth_time"]
    assert asked_at <= auth_time <= logged_in, "no later than the login: never younger than it really is"


def test_max_age_zero_asks_every_time_but_once_per_request(client, district, guardian, oidc_client):
    portal_log_in(client, district, guardian.username)
    stamp_login(client, seconds_ago=0)
    _, challenge = pkce_pair()
    url = authorize_url(oidc_client["client_id"], challenge, max_age="0")

    assert sent_to_login(client.get(url), district)
    portal_log_in(client, district, guardian.username, next_url=url)
    stamp_login(client, seconds_ago=1)  # a second passed on the login page: still more than max_age=0
    code_from(consent(client, url))  # the login it asked for answers it: no second round

    _, again = pkce_pair()
    assert sent_to_login(client.get(authorize_url(oidc_client["client_id"], again, max_age="0")), district), (
        "the next request asks again"
    )


def test_a_person_sent_to_log_in_gets_the_time_of_that_login(client, district, guardian, oidc_client):
    verifier, challenge = pkce_pair()
    url = authorize_url(oidc_client["client_id"], challenge, max_age="0")
    asked_at = int(time.time())
    assert sent_to_login(client.get(url), district), "no portal login at all"
    portal_log_in(client, district, guardian.username, next_url=url)
    logged_in = int(time.time())
    time.sleep(1.1)

    tokens = tokens_for(client, oidc_client, url, verifier)

    assert asked_at <= id_token_claims(client, tokens)["auth_time"] <= logged_in, (
        "no second login for max_age=0"
    )


def test_prompt_none_with_a_login_older_than_max_age_answers_login_required(
    client, district, guardian, oidc_client
):
    portal_log_in(client, district, guardian.username)
    stamp_login(client, seconds_ago=120)
    _, challenge = pkce_pair()

    response = client.get(authorize_url(oidc_client["client_id"], challenge, max_age="60", prompt="none"))

    assert response.status_code == 302
    answer = urlparse(response["Location"])
    assert answer.netloc == "homework.example", "back to the client, no login page shown"
    assert parse_qs(answer.query)["error"] == ["login_required"]
    assert parse_qs(answer.query)["state"] == ["state-123"]
    assert client.get("/portal/students/").status_code == 200, "prompt=none leaves the portal login alone"


def test_a_max_age_that_is_not_a_number_is_an_invalid_request(client, district, guardian, oidc_client):
    portal_log_in(client, district, guardian.username)
    _, challenge = pkce_pair()
    for value in ("soon", "-5", "1.5"):
        response = client.get(authorize_url(oidc_client["client_id"], challenge, max_age=value))
        assert response.status_code == 302, value
        answer = parse_qs(urlparse(response["Location"]).query)
        assert answer["error"] == ["invalid_request"] and "code" not in answer, value


def test_no_auth_time_is_made_up_when_the_login_time_is_unknown(client, district, guardian, oidc_client):
    portal_log_in(client, district, guardian.username)
    session = client.session
    session.pop(LOGIN_AT, None)
    session.save()
    verifier, challenge = pkce_pair()

    tokens = tokens_for(client, oidc_client, authorize_url(oidc_client["client_id"], challenge), verifier)

    assert "auth_time" not in id_token_claims(client, tokens), "not the issue time passed off as a login"


def test_the_portal_login_records_its_time(client, district, guardian, oidc_client):
    """No stamping by hand: the portal's own login writes the time the ID token then carries."""
    before = int(time.time())
    portal_log_in(client, district, guardian.username)
    after = int(time.time())
    assert before <= client.session[LOGIN_AT] <= after
    verifier, challenge = pkce_pair()
    tokens = tokens_for(client, oidc_client, authorize_url(oidc_client["client_id"], challenge), verifier)
    assert before <= id_token_claims(client, tokens)["auth_time"] <= after
