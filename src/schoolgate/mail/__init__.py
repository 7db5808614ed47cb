"""E-mail: per-district templates, the outbox, and delivery by the background worker over SMTP."""
