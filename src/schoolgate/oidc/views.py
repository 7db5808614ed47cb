"""The authorization endpoint, logged in by the *portal* session instead of a Django user.

`PortalAuthorizationView` is django-oauth-toolkit's `AuthorizationView` with one difference: who the
resource owner is. Before the toolkit runs it resolves the client (an unknown one is refused here, since its
redirect URI cannot be trusted), then the portal account of this browser session (`portal.session`). Without
one — or with one whose credentials changed — the toolkit sees an anonymous user and sends the person to
*the client's district's* portal login with `?next=` back to this request (or answers `login_required` for
`prompt=none`). An account of another district is refused. Otherwise `request.user` becomes the account's
shadow user (`bridge`), which is all the toolkit needs to store grants and tokens, and the time of the portal
login is recorded on it for the ID token's `auth_time` (`logins`).

Asking for a fresh login — `prompt=login`, or `max_age` when the portal login is older than that — ends the
portal login of the session and sends the person to log in, as when there is none; with `prompt=none` the
client is told `login_required` instead.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.views import AuthorizationView, ConnectDiscoveryInfoView
from oauthlib.oauth2.rfc6749.errors import InvalidRequestError

from schoolgate.oidc import bridge, logins
from schoolgate.oidc.models import OidcClient
from schoolgate.portal.session import current_account


def _refused(request: HttpRequest, status: int, error: str, description: str, **extra: Any) -> HttpResponse:
    context = {"error": {"error": error, "description": description}, **extra}
    return render(request, "oauth2_provider/authorize.html", context, status=status)


class PortalAuthorizationView(AuthorizationView):
    template_name = "oauth2_provider/authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The client names the district (a client belongs to exactly one), so it is looked up by its id alone.
        source = request.POST if request.method == "POST" else request.GET
        client_id = source.get("client_id", "")
        client = (
            OidcClient.objects.select_related("district", "application")
            .filter(application__client_id=client_id)
            .first()
            if client_id
            else None
        )
        if client is None:
            return _refused(request, 400, "invalid_client", "This application is not registered.")
        self.client = client
        account = current_account(request)
        if account is None:  # the toolkit then sends the person to get_login_url()
            return self._dispatch_as(AnonymousUser(), request, *args, **kwargs)
        if account.district_id != client.district_id:
            return _refused(
                request, 403, "access_denied",
                f"{client.application.name} is an application of {client.district.name}. Your portal login "
                f"belongs to {account.district.name}, so it cannot sign you in there.",
                district=client.district,
                login_url=f"{self.get_login_url()}?{urlencode({'next': request.get_full_path()})}",
            )  # fmt: skip
        if account.must_change_password:
            return redirect("portal:password")  # the group's "must change at next login" policy comes first
        request.portal_account = account  # type: ignore[attr-defined]
        identity = bridge.identity_for(account)
        bridge.note_login(identity, logins.login_time(request))
        return self._dispatch_as(identity.user, request, *args, **kwargs)

    def _dispatch_as(self, user: Any, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The toolkit reads the resource owner from request.user. It is swapped only while the toolkit runs:
        # pages render later with the browser's own user (anonymous, or an admin's console login), so
        # nothing outside this view ever sees a shadow user as the logged-in user.
        original = request.user
        request.user = user
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            request.user = original

    def get_login_url(self) -> str:
        """The portal login of the client's district (the toolkit adds `?next=` back to this request)."""
        return reverse("portal:login", args=[self.client.district.slug])

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        answered = logins.answers_ask(request)  # the request the person has just logged in for
        prompt = set(request.GET.get("prompt", "").split())
        max_age = request.GET.get("max_age") or None  # present but empty: as good as absent
        # prompt=login asks for a login whatever the age (the toolkit handles it); otherwise max_age is
        # checked here, after the request is known to be valid, so a bad one never ends a portal login.
        if max_age is None or answered or "login" in prompt:
            return super().get(request, *args, **kwargs)
        try:
            _scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        if not max_age.isascii() or not max_age.isdigit():
            invalid = InvalidRequestError(
                description="max_age must be a whole number of seconds.", state=credentials.get("state")
            )
            return self.error_response(
                OAuthToolkitError(invalid, redirect_uri=credentials["redirect_uri"]), self.client.application
            )
        if not logins.older_than(request, int(max_age)):
            return super().get(request, *args, **kwargs)
        if "none" in prompt:
            return self.handle_no_permission()  # login_required to the client; the portal login stays
        logins.ask_for_login(request)
        # Back to this very request, max_age included: the login it asked for answers it (`logins`).
        return redirect_to_login(
            request.get_full_path(), self.get_login_url(), self.get_redirect_field_name()
        )

    def handle_no_permission(self) -> HttpResponse:
        # No portal login (or prompt=login): the person is sent to log in, and the time of asking bounds the
        # login that follows. prompt=none sends nobody anywhere, so it asks nothing.
        if "none" not in self.request.GET.get("prompt", "").split():
            logins.ask_for_login(self.request)
        return super().handle_no_permission()

    def handle_prompt_login(self) -> HttpResponse:
        # prompt=login asks for a fresh login: end the portal session's login (not the whole session, which
        # may also hold a console login) so that coming back without logging in cannot skip it.
        logins.ask_for_login(self.request)
        return super().handle_prompt_login()

    def render_to_response(self, context: dict[str, Any], **response_kwargs: Any) -> HttpResponse:
        prompt = set(self.request.GET.get("prompt", "").split())
        if "none" in prompt and "form" in context and not context.get("error"):
            # The consent page would be shown, which prompt=none forbids: tell the client instead. The
            # redirect URI in the context has been validated against the client's registered ones.
            answer = {
                "error": "consent_required",
                **({"state": context["state"]} if context.get("state") else {}),
            }
            separator = "&" if "?" in context["redirect_uri"] else "?"
            return self.redirect(
                context["redirect_uri"] + separator + urlencode(answer), context["application"]
            )
        return super().render_to_response(context, **response_kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["district"] = self.client.district
        context["account"] = getattr(self.request, "portal_account", None)
        return context


class DiscoveryView(ConnectDiscoveryInfoView):
    """The toolkit's discovery document, saying only what this provider signs with.

    The toolkit offers HS256 beside RS256 whenever it has an RSA key, but every client here is registered
    for RS256 (`clients.add_client`), so no ID token is ever signed with a client's secret; a relying party
    that read HS256 there could pick it and then reject every token."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        document = json.loads(response.content)
        document["id_token_signing_alg_values_supported"] = ["RS256"]
        response.content = json.dumps(document)
        return response
