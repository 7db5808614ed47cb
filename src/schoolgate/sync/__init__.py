"""Mirroring the SIS: readers → staging → diff → apply, the mass-revocation guard, and sync runs."""
