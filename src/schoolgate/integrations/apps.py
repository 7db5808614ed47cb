"""App configuration for `integrations`: subscribes the outbox to account changes and finished sync runs."""

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "schoolgate.integrations"
    label = "integrations"
    verbose_name = "Integrations (SCIM push, webhooks)"

    def ready(self) -> None:
        from schoolgate.core import changes
        from schoolgate.integrations.events import sync_finished
        from schoolgate.integrations.outbox import record_changes

        changes.subscribe(record_changes)
        changes.subscribe_sync_runs(sync_finished)
