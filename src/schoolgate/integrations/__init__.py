"""Outbound integrations: SCIM push to downstream services and signed webhooks (issue 7)."""
