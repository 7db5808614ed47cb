"""What the SCIM server keeps of its own about an account: the SCIM client's identifier for it (`externalId`)
and whether a client deleted it.

RFC 7643 §3.1 defines `externalId` as the provisioning client's identifier for a resource, so it is client
data, not SIS data: it lives here, beside the account, and never touches the account's lifecycle fields.
A DELETE revokes the account through the lifecycle (revoked accounts stay as Schoolgate history) and marks it
deleted here, because RFC 7644 §3.6 requires every later SCIM operation on it to answer 404.
"""

from django.db import models

from schoolgate.accounts.models import Account
from schoolgate.core.models import District


class ScimAccount(models.Model):
    """The SCIM client's view of one account."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="+", db_index=False)
    # No database FK: the lifecycle's set-based withdraw deletes account rows in SQL, and must not be refused
    # because a SCIM client once named the account; `resources.delete_user` removes the row with its account.
    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, related_name="scim_link", db_constraint=False
    )
    external_id = models.CharField(max_length=255, blank=True)
    # Set by a SCIM DELETE; the account is hidden from SCIM while it stays revoked.
    deleted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["district", "external_id"], name="scim_external_id_idx")]

    def __str__(self) -> str:
        return f"{self.external_id or '-'} → account {self.account_id}"
