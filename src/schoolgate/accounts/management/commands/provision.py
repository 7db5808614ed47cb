"""`schoolgate provision SLUG (--all | CODE …)`: send welcome invitations to the given people, or with --all to
everyone ready_to_provision."""

from schoolgate.accounts.actions import provision_accounts
from schoolgate.accounts.management.bulk_action import BulkActionCommand


class Command(BulkActionCommand):
    help = "Send welcome invitations: to the given people, or with --all to everyone ready_to_provision."
    all_flag, past, action = "--all", "provisioned", staticmethod(provision_accounts)
