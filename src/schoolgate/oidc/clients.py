"""Registering relying parties: each client belongs to one district, and only its accounts may use it.

Clients use the authorization-code grant with PKCE (required for every client, public or confidential) and
RS256-signed ID tokens. A confidential client's secret is generated here, returned once, and stored hashed
by django-oauth-toolkit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from schoolgate.core import audit
from schoolgate.core.models import District
from schoolgate.oidc.models import OidcClient


class ClientRejected(ValueError):
    """The client cannot be registered as given; the message says why."""


@dataclass(frozen=True)
class NewClient:
    client: OidcClient
    secret: str | None  # the only time a confidential client's secret is visible


def describe(client: OidcClient) -> dict[str, Any]:
    app = client.application
    return {
        "client_id": app.client_id,
        "name": app.name,
        "district": client.district.slug,
        "client_type": app.client_type,
        "redirect_uris": app.redirect_uris.split(),
        "created_at": client.created_at.isoformat() if client.created_at else None,
        "created_by": client.created_by,
    }


def add_client(
    district: District, *, name: str, redirect_uris: list[str], public: bool, actor: str
) -> NewClient:
    """Register an authorization-code client of `district`."""
    Application = get_application_model()
    if not name.strip():
        raise ClientRejected("the client needs a name (it is shown to people on the consent page)")
    if not redirect_uris:
        raise ClientRejected("the client needs at least one --redirect-uri")
    secret = None if public else generate_client_secret()
    app = Application(
        name=name.strip(),
        client_type=Application.CLIENT_PUBLIC if public else Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(redirect_uris),
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=False,
        **({"client_secret": secret} if secret else {"client_secret": ""}),
    )
    try:
        app.clean()
    except ValidationError as exc:
        raise ClientRejected("; ".join(exc.messages)) from None
    with transaction.atomic():
        app.save()  # hashes the secret
        client = OidcClient.objects.create(district=district, application=app, created_by=actor)
        audit.record(
            district, actor, "oidc_client.added", target_type="oidc_client", target_id=client.pk,
            target_label=app.client_id, after={k: v for k, v in describe(client).items() if k != "created_at"},
        )  # fmt: skip
    return NewClient(client=client, secret=secret)


def list_clients(district: District) -> list[OidcClient]:
    return list(
        OidcClient.objects.filter(district=district)
        .select_related("application", "district")
        .order_by("application__name", "pk")
    )
