"""Checks on other records of the same human: duplicates to merge, suggested successors."""

from __future__ import annotations

from schoolgate.accounts.doctor.context import Context
from schoolgate.accounts.doctor.model import WARNING, Finding, Fix
from schoolgate.accounts.merge import find_duplicates
from schoolgate.people.models import IdentityMatch, PersonKind


def identity_checks(ctx: Context) -> list[Finding]:
    findings = []
    if ctx.person.kind == PersonKind.CONTACT and ctx.person.merged_into_id is None:
        for pair in find_duplicates(ctx.district):
            if ctx.code not in (pair.keep, pair.drop):
                continue
            other = pair.drop if pair.keep == ctx.code else pair.keep
            findings.append(Finding(
                "duplicate_record", WARNING,
                f"{other} looks like the same person entered again (match {pair.score:.2f}: "
                f"{', '.join(pair.reasons)}); each record sees only its own students.",
                Fix("merge", f"Merge {pair.drop} into {pair.keep}: one login then sees every child.",
                    f"schoolgate merge {ctx.slug} {pair.keep} {pair.drop}", applicable=True,
                    params={"keep": pair.keep, "drop": pair.drop}),
                ctx.code,
            ))  # fmt: skip
    weak = IdentityMatch.objects.filter(
        district=ctx.district, old=ctx.person, strength="weak", transferred_at__isnull=True
    ).select_related("new")
    for match in weak:
        new = match.new.sis_code
        findings.append(Finding(
            "successor_suggested", WARNING,
            f"{new} may be a newer record of the same person (weak match {match.score:.2f}: "
            f"{', '.join(match.reasons)}); nothing was done automatically.",
            Fix("transfer", f"If it is the same person, carry the login over to {new}.",
                f"schoolgate transfer {ctx.slug} {ctx.code} {new}", applicable=True,
                params={"old": ctx.code, "new": new}),
            ctx.code,
        ))  # fmt: skip
    return findings
