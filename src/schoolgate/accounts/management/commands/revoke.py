"""`schoolgate revoke SLUG (--all-ready | CODE …)`: revoke the logins of the given people, or with --all-ready
of every account ready_to_revoke."""

from schoolgate.accounts.actions import revoke_accounts
from schoolgate.accounts.management.bulk_action import BulkActionCommand


class Command(BulkActionCommand):
    help = "Revoke logins: of the given people, or with --all-ready of every account ready_to_revoke."
    all_flag, past, action = "--all-ready", "revoked", staticmethod(revoke_accounts)
