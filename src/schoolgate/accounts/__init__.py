"""Logins: the account lifecycle, its transitions, and reconciliation against eligibility."""
