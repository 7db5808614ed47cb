"""What every check looks at: the district, the person, their account, and optionally one student."""

from __future__ import annotations

from dataclasses import dataclass

from schoolgate.accounts.models import Account, Invitation
from schoolgate.core.models import District
from schoolgate.people.models import Person


@dataclass
class Context:
    district: District
    person: Person
    account: Account | None
    student: Person | None = None

    @property
    def slug(self) -> str:
        return self.district.slug

    @property
    def code(self) -> str:
        return self.person.sis_code

    def latest_invitation(self) -> Invitation | None:
        if self.account is None:
            return None
        return (
            Invitation.objects.filter(account=self.account, purpose="welcome")
            .order_by("-created_at", "-pk")
            .first()
        )
