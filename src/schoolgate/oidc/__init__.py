"""The OpenID Connect provider for downstream apps (issue 7)."""
