"""Checks between a contact and one student: the link, the portal flag and its rule, overrides, sections."""

from __future__ import annotations

from django.utils import timezone

from schoolgate.accounts.doctor.context import Context
from schoolgate.accounts.doctor.model import ERROR, INFO, WARNING, Finding, Fix
from schoolgate.people.models import SECTIONS, Link, Override, sections_of


def _finding(ctx: Context, code: str, severity: str, message: str, fix: Fix) -> Finding:
    return Finding(code, severity, message, fix, ctx.code)


def _overrides(link: Link) -> list[Override]:
    return list(
        Override.objects.filter(link=link, removed_at__isnull=True).exclude(expires_at__lte=timezone.now())
    )


def student_checks(ctx: Context) -> list[Finding]:
    student, slug, code = ctx.student, ctx.slug, ctx.code
    assert student is not None
    name = student.sis_code
    if not student.in_sis or not student.enabled:
        return [_finding(
            ctx, "student_left", ERROR, f"{name} is {'no longer in the SIS' if not student.in_sis else 'disabled'}:"
            " no contact can see them.",
            Fix("edit_sis", f"If {name} is still enrolled, restore the record in the SIS and sync.",
                f"schoolgate sync {slug} PATH"),
        )]  # fmt: skip
    link = Link.objects.filter(district=ctx.district, contact=ctx.person, student=student).first()
    if link is None or not link.in_sis:
        return [_finding(
            ctx, "not_linked", ERROR, f"{code} is not linked to {name} in the SIS.",
            Fix("edit_sis", f"Link {code} to {name} in the SIS (pull the existing contact onto the sibling rather "
                "than entering a new one), then sync.", f"schoolgate person {slug} {name}"),
        )]  # fmt: skip
    findings = []
    overrides = _overrides(link)
    for override in overrides:
        findings.append(_finding(
            ctx, "override_in_force", WARNING if not override.value else INFO,
            f"An override forces {override.field} {'on' if override.value else 'off'} for {name}"
            f" ({override.reason}; set by {override.created_by}"
            f"{f', until {override.expires_at:%Y-%m-%d}' if override.expires_at else ''}).",
            Fix("remove_override", "Remove it to hand the decision back to the rules.",
                f"schoolgate override remove {slug} {override.pk}"),
        ))  # fmt: skip
    if not link.portal_flag:
        if not any(o.field == "portal" for o in overrides):
            rule = link.flag_rule or "no rule matched"
            findings.append(_finding(
                ctx, "flag_off", ERROR,
                f"No portal flag for {code} → {name}: the rule '{rule}' decided (relationship: "
                f"{link.relationship or 'none given'}).",
                Fix("edit_sis", "Correct the relationship or flags in the SIS, or change the district's rule; to "
                    "decide it here instead, set an override with a reason.",
                    f'schoolgate override set {slug} {code} {name} --field portal --value on --reason "…"'),
            ))  # fmt: skip
        return findings
    missing = [s for s in SECTIONS if s not in sections_of(link.permissions)]
    if missing:
        findings.append(_finding(
            ctx, "permission_off", WARNING, f"{code} can see {name} but not: {', '.join(missing)}.",
            Fix("set_override", "If they should see it, turn the section on with a reason.",
                f'schoolgate override set {slug} {code} {name} --field {missing[0]} --value on --reason "…"'),
        ))  # fmt: skip
    return findings


def flagged_contact_checks(ctx: Context) -> list[Finding]:
    """For a student: is any contact flagged to see them?"""
    links = Link.objects.filter(district=ctx.district, student=ctx.person, in_sis=True)
    if links.filter(portal_flag=True).exists():
        return []
    rules = sorted({link.flag_rule or "no rule matched" for link in links}) or ["no contacts linked"]
    return [_finding(
        ctx, "no_flagged_contact", WARNING,
        f"No contact of {ctx.code} is flagged for the portal ({', '.join(rules)}).",
        Fix("edit_sis", "Check the student's contacts in the SIS: the parent's relationship and flags must meet "
            "the district's rules.", f"schoolgate person {ctx.slug} {ctx.code}"),
    )]  # fmt: skip
