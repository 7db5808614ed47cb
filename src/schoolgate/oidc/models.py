"""The bridge between portal accounts and django-oauth-toolkit, and which district owns each client.

django-oauth-toolkit keys grants and tokens on `AUTH_USER_MODEL`, but a portal login is an `Account`, not a
Django user. Each account that authorizes an app gets one *shadow* user (no usable password, inactive, never
staff, no admin membership: it can never log in to the console) and an `OidcIdentity` row tying the two
together. The identity also holds the account's `credentials_version` at the time its tokens were minted, so a
password change or revocation makes every older token dead.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from oauth2_provider.settings import APPLICATION_MODEL

from schoolgate.accounts.models import Account
from schoolgate.core.models import District


class OidcClient(models.Model):
    """A relying party registered for one district: only that district's accounts may authorize it."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="oidc_clients")
    application = models.OneToOneField(
        APPLICATION_MODEL, on_delete=models.CASCADE, related_name="schoolgate_client"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"OIDC client {self.application_id} of district {self.district_id}"


class OidcIdentity(models.Model):
    """One portal account as django-oauth-toolkit sees it: a shadow user and a stable subject."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="+")
    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="oidc_identity")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identity"
    )
    # The `sub` claim: random rather than the account id, so it reveals nothing and never changes.
    subject = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The account's credentials_version when its current tokens were minted; tokens are honoured only while
    # the account still has this version.
    credentials_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "OIDC identities"

    def __str__(self) -> str:
        return f"OIDC identity of account {self.account_id}"
