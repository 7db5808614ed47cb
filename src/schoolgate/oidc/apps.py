"""App configuration for `oidc`: subscribes token revocation to every account change."""

from django.apps import AppConfig


class OidcConfig(AppConfig):
    name = "schoolgate.oidc"
    label = "oidc"
    verbose_name = "OpenID Connect provider"

    def ready(self) -> None:
        from schoolgate.core import changes
        from schoolgate.oidc.revocation import revoke_for_changed_accounts

        changes.subscribe(revoke_for_changed_accounts)
