"""Schoolgate's OAuth2Validator: tokens work only while the portal account behind them is live, and the
claims are those of `oidc.claims`. An ID token's `auth_time` is the portal login's (`oidc.logins`), or absent
when that is unknown.

django-oauth-toolkit already checks that a token exists, has not expired and carries the scopes. On top of
that, every use of a token — an authorization code at the token endpoint, a refresh token, an access token
at userinfo or any other protected resource — asks `bridge.is_live`: the account is `active`, its
`credentials_version` is the one the token was minted under (a password change or reset ends every token),
and it belongs to the district that owns the client.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator

from schoolgate.oidc import bridge
from schoolgate.oidc.claims import CLAIM_SCOPES, claims_for


class SchoolgateValidator(OAuth2Validator):
    oidc_claim_scope = CLAIM_SCOPES

    @staticmethod
    def _refuse(request: Any, description: str) -> bool:
        request.oauth2_error = OrderedDict([("error", "invalid_token"), ("error_description", description)])
        return False

    def validate_bearer_token(self, token: str, scopes: list[str], request: Any) -> bool:
        if not super().validate_bearer_token(token, scopes, request):
            return False
        if not bridge.is_live(request.user, request.client):
            return self._refuse(request, "The portal login behind this token is no longer active.")
        return True

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        return super().validate_code(client_id, code, client, request, *args, **kwargs) and bridge.is_live(
            request.user, client
        )

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        return super().validate_refresh_token(
            refresh_token, client, request, *args, **kwargs
        ) and bridge.is_live(request.user, client)

    def validate_user(self, *args: Any, **kwargs: Any) -> bool:
        # The password grant is never offered (clients are registered for authorization codes only); refuse
        # it outright so a shadow user can never be reached with a password, whatever a client claims.
        return False

    # prompt=none: oauthlib asks these while validating the request, before it knows the user (the toolkit
    # hands the user over only when the response is created). The authorization view answers both questions
    # itself: without a portal session it returns login_required, and where the person would have to see the
    # consent page it returns consent_required (`PortalAuthorizationView.render_to_response`).
    def validate_silent_login(self, request: Any) -> bool:
        return True

    def validate_silent_authorization(self, request: Any) -> bool:
        return True

    def get_id_token_dictionary(
        self, token: Any, token_handler: Any, request: Any
    ) -> tuple[dict[str, Any], Any]:
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        if getattr(request.user, "last_login", None) is None:
            # The portal login time is unknown (`oidc.logins`): the toolkit would put the issue time there,
            # claiming a login that never happened. A request with max_age never gets here without one.
            claims.pop("auth_time", None)
        return claims, expiration_time

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        identity = bridge.identity_of_user(request.user)
        if identity is None:
            return {}
        # Only the claims the granted scopes release are computed (students cost a query); the base class
        # then filters them once more through `oidc_claim_scope`.
        return claims_for(identity, list(request.scopes or []))

    def get_discovery_claims(self, request: Any) -> list[str]:
        return list(CLAIM_SCOPES)
