"""Welcome e-mails: the activation link for each newly invited account, queued in the outbox.

Called by the transitions that open a welcome link (provision, resend, a transfer to a never-activated
login), in their transaction: if the transition rolls back, no e-mail goes out. Passwords are never e-mailed;
the link lets the person set one.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.urls import reverse

from schoolgate.accounts.models import Account, Invitation, LinkPurpose
from schoolgate.accounts.tokens import make_token
from schoolgate.core.models import District
from schoolgate.mail.outbox import enqueue

NO_EMAIL = "no e-mail address on record: the welcome could not be sent (add one in the SIS, then resend)"


def link_url(invitation: Invitation) -> str:
    name = "portal:activate" if invitation.purpose == LinkPurpose.WELCOME else "portal:reset"
    return settings.SCHOOLGATE_BASE_URL + reverse(name, args=[make_token(invitation)])


def send_welcomes(district: District, account_ids: Iterable[int]) -> dict[int, str]:
    """Queue a welcome for each account's open welcome link; returns the accounts that could not get one."""
    ids = list(account_ids)
    if not ids:
        return {}
    problems: dict[int, str] = {}
    links = {
        inv.account_id: inv
        for inv in Invitation.objects.filter(
            account_id__in=ids, purpose=LinkPurpose.WELCOME, used_at__isnull=True, withdrawn_at__isnull=True
        ).order_by("created_at")
    }
    accounts = Account.objects.filter(pk__in=ids).select_related("person")
    for account in accounts.iterator(chunk_size=2000):
        person, invitation = account.person, links.get(account.pk)
        if invitation is None:
            continue
        if not person.email:
            problems[account.pk] = NO_EMAIL
            continue
        try:
            enqueue(
                district,
                "welcome",
                person.email,
                {
                    "person_name": person.display_name,
                    "activation_url": link_url(invitation),
                    "expires_on": invitation.expires_at.date(),
                    "username": account.username,
                },
                person=person,
                account_id=account.pk,
            )
        except ValueError as exc:  # an address the outbox refuses outright
            problems[account.pk] = f"the welcome could not be sent: {exc}"
    return problems
