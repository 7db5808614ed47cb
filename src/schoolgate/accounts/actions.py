"""Actions on accounts picked by SIS code or "all that are ready" — the shape every entry point uses
(CLI today; console and API bulk actions call the same functions).

Unknown codes reject the whole request before anything changes. Accounts not in a legal state for the
transition are skipped and reported with their state, so re-running an action is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.db import transaction

from schoolgate.accounts import lifecycle
from schoolgate.accounts.models import Account, AccountState
from schoolgate.accounts.moves import MoveResult, Selection, select_accounts
from schoolgate.core import sql
from schoolgate.core.models import District


class UnknownPeople(LookupError):
    """Some codes name no account in the district."""

    def __init__(self, codes: list[str]) -> None:
        shown = ", ".join(codes[:20]) + (" …" if len(codes) > 20 else "")
        super().__init__(f"no account for {len(codes)} code(s) in this district: {shown}")
        self.codes = codes


@dataclass
class ActionResult:
    done: int = 0
    skipped: int = 0
    results: list[dict] = field(default_factory=list)

    def as_dict(self, verb: str) -> dict:
        return {"counts": {verb: self.done, "skipped": self.skipped}, "results": self.results}


def _run(
    district: District,
    codes: Sequence[str] | None,
    all_in_state: str | None,
    transition: Callable[[District, Selection], MoveResult],
    verb: str,
) -> ActionResult:
    result = ActionResult()
    with transaction.atomic():
        if codes:
            found, unknown = lifecycle.accounts_for_codes(district, codes)
            if unknown:
                raise UnknownPeople(unknown)
            outcome = transition(district, select_accounts(a.pk for a in found.values()))
            moved = set(outcome.moved)
            for code, account in found.items():
                if account.pk in moved:
                    result.done += 1
                    row = {"person": code, "result": verb}
                    if account.pk in outcome.notes:
                        row["detail"] = outcome.notes[account.pk]
                    result.results.append(row)
                else:
                    result.skipped += 1
                    detail = outcome.refused.get(account.pk) or f"the account is {account.state}"
                    result.results.append({"person": code, "result": "skipped", "detail": detail})
        elif all_in_state:
            selection = Selection(
                f"""SELECT id AS account_id, CAST(NULL AS VARCHAR(20)) AS reason,
                           CAST(NULL AS BIGINT) AS successor_id
                    FROM {sql.table(Account)} WHERE district_id = %s AND state = %s""",
                (district.pk, all_in_state),
            )
            outcome = transition(district, selection)
            moved_ids = outcome.moved
            result.skipped = len(outcome.refused)
            refused_codes = dict(
                Account.objects.filter(pk__in=list(outcome.refused)).values_list("pk", "person__sis_code")
            )
            skipped = [
                {"person": refused_codes[pk], "result": "skipped", "detail": why}
                for pk, why in outcome.refused.items()
            ]
            codes_by_id = outcome.codes or dict(
                Account.objects.filter(pk__in=moved_ids).values_list("pk", "person__sis_code").iterator()
            )
            result.done = len(moved_ids)
            result.results = [{"person": codes_by_id[i], "result": verb} for i in sorted(moved_ids)] + skipped
    return result


def provision_accounts(
    district: District, *, codes: Sequence[str] | None = None, all_ready: bool = False, actor: str
) -> ActionResult:
    """Send welcomes to the given people, or to everyone `ready_to_provision`."""
    return _run(
        district,
        codes,
        AccountState.READY_TO_PROVISION if all_ready else None,
        lambda d, sel: lifecycle.provision(d, sel, actor=actor, want_ids=True),
        "provisioned",
    )


def revoke_accounts(
    district: District, *, codes: Sequence[str] | None = None, all_ready: bool = False, actor: str
) -> ActionResult:
    """Revoke the given people's logins, or every login `ready_to_revoke`."""
    return _run(
        district,
        codes,
        AccountState.READY_TO_REVOKE if all_ready else None,
        lambda d, sel: lifecycle.revoke(d, sel, actor=actor, want_ids=True),
        "revoked",
    )
