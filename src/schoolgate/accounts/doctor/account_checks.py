"""Checks on the person record and their login: SIS status, account state, lockout, usernames, bounces."""

from __future__ import annotations

from django.utils import timezone

from schoolgate.accounts.doctor.context import Context
from schoolgate.accounts.doctor.model import ERROR, INFO, WARNING, Finding, Fix
from schoolgate.accounts.models import Account, AccountState, RevokeReason
from schoolgate.accounts.username_claims import SOURCE_FIELD, holders
from schoolgate.accounts.usernames import username_key
from schoolgate.core.models import AuditEvent
from schoolgate.people.models import IdentityMatch, Link, PersonKind

REASON_TEXT = {
    RevokeReason.NO_STUDENTS: "has no eligible student left",
    RevokeReason.NOT_LINKED: "is a login on a record linked to no student (a username typed onto the wrong record?)",
    RevokeReason.FLAG_REMOVED: "no longer has portal access (the flag was turned off)",
    RevokeReason.LEFT_SIS: "belongs to a record that left the SIS",
}


def _finding(ctx: Context, code: str, severity: str, message: str, fix: Fix) -> Finding:
    return Finding(code, severity, message, fix, ctx.code)


def _cmd(ctx: Context, *words: str) -> str:
    return " ".join(["schoolgate", words[0], ctx.slug, *words[1:]])


def why_not_eligible(ctx: Context) -> str:
    """The first reason this person has no login, in the words an admin would use."""
    person = ctx.person
    if person.kind != PersonKind.CONTACT:
        if not person.login_allowed:
            return f"no {person.kind} rule allows it (deciding rule: {person.login_rule or 'none matched'})"
        return "it has not been listed yet (run a sync)"
    links = Link.objects.filter(district=ctx.district, contact=person)
    if not links.exists():
        return "the record is not linked to any student"
    current = links.filter(in_sis=True, student__in_sis=True)
    if not current.exists():
        return "none of the students linked to it is still in the SIS"
    if not current.filter(portal_flag=True).exists():
        rules = sorted({link.flag_rule or "no rule matched" for link in current})
        return f"no link has the portal flag (deciding rule: {', '.join(rules)})"
    return "it has not been listed yet (run a sync)"


def record_checks(ctx: Context) -> list[Finding]:
    person, findings = ctx.person, []
    if person.merged_into_id:
        keep = person.merged_into.sis_code
        findings.append(_finding(
            ctx, "merged_record", ERROR, f"This record was merged into {keep}: {keep}'s login is the one to use.",
            Fix("use_other_record", f"Diagnose {keep} instead.", _cmd(ctx, "doctor", f"--person {keep}")),
        ))  # fmt: skip
    if not person.in_sis:
        findings.append(_finding(
            ctx, "person_left_sis", ERROR, f"{person.sis_code} is no longer in the SIS.",
            Fix("edit_sis", "If they should still have access, restore the record in the SIS and sync.",
                _cmd(ctx, "sync", "PATH")),
        ))  # fmt: skip
    elif not person.enabled:
        findings.append(_finding(
            ctx, "person_disabled", ERROR, f"{person.sis_code} is disabled in the SIS (enabledUser = false).",
            Fix("edit_sis", "Enable the record in the SIS and sync.", _cmd(ctx, "sync", "PATH")),
        ))  # fmt: skip
    bounced = _bounced_address(ctx) if person.email_bounced_at else None
    # Only while the address on record is the one that bounced: once the SIS corrects it, the old bounce says
    # nothing about the new address (the welcome is then resent like any other: never_activated).
    if bounced is not None and username_key(bounced) == username_key(person.email or ""):
        findings.append(_finding(
            ctx, "email_bounced", ERROR,
            f"E-mail to {bounced} bounced on {person.email_bounced_at:%Y-%m-%d}"
            f" ({person.email_bounce_reason or 'permanent failure'}): the welcome never arrived.",
            # Not resent from here: a resend to the address that bounced bounces again.
            Fix("edit_sis", "Correct the e-mail address in the SIS and sync, then resend the welcome.",
                _cmd(ctx, "sync", "PATH")),
        ))  # fmt: skip
    return findings


def _bounced_address(ctx: Context) -> str:
    """The address that bounced, as the bounce's audit event recorded it (the person's address on record
    for bounces recorded before the event named it)."""
    event = (
        AuditEvent.objects.filter(district=ctx.district, action="person.email_bounced", target_type="person",
                                  target_id=ctx.person.pk)
        .order_by("-pk").values_list("after", flat=True).first()
    )  # fmt: skip
    return (event or {}).get("email") or ctx.person.email or ""


def state_checks(ctx: Context) -> list[Finding]:
    account, now = ctx.account, timezone.now()
    if account is None:
        return [_finding(
            ctx, "account_missing", ERROR, f"No login is listed for {ctx.code}: {why_not_eligible(ctx)}.",
            Fix("inspect", "See the record's links, flags and the rules that decided them.",
                _cmd(ctx, "person", ctx.code)),
        )]  # fmt: skip
    state = account.state
    if state == AccountState.READY_TO_PROVISION:
        return [_finding(
            ctx, "not_provisioned", ERROR, "Account information has not been entered: no welcome was sent yet.",
            Fix("provision", "Send the welcome e-mail so they can set a password.",
                _cmd(ctx, "provision", ctx.code), applicable=True),
        )]  # fmt: skip
    if state == AccountState.INVITED:
        invitation = ctx.latest_invitation()
        fix = Fix("resend_welcome", "Send a new welcome link (the old one stops working).",
                  _cmd(ctx, "doctor", f"--person {ctx.code}", "--apply never_activated"), applicable=True)  # fmt: skip
        if invitation and invitation.expires_at <= now:
            return [_finding(
                ctx, "invitation_expired", ERROR,
                f"The welcome link sent on {invitation.created_at:%Y-%m-%d} expired on {invitation.expires_at:%Y-%m-%d}"
                " before a password was set.", fix,
            )]  # fmt: skip
        sent = f" on {invitation.created_at:%Y-%m-%d}" if invitation else ""
        return [_finding(
            ctx, "never_activated", WARNING,
            f"A welcome was sent{sent} but the password has not been set yet.", fix,
        )]  # fmt: skip
    if state == AccountState.REVOKED:
        # A record that left the SIS, was merged away or handed its login to a newer record has nothing to be
        # listed again for: offering the fix only for the doctor to refuse it helps nobody.
        if account.reason == RevokeReason.SUPERSEDED and account.successor_id:
            fix = Fix(
                "use_other_record",
                f"Their login moved to {account.successor.sis_code}: diagnose that record.",
                _cmd(ctx, "doctor", f"--person {account.successor.sis_code}"),
            )
        elif not ctx.person.in_sis or ctx.person.merged_into_id:
            fix = Fix(
                "edit_sis",
                "This record is no longer in the SIS: if they should have access, restore it in "
                "the SIS and sync.",
                _cmd(ctx, "sync", "PATH"),
            )
        else:
            fix = Fix(
                "reinstate_and_provision",
                "If they should have access, list them again and send a new welcome.",
                _cmd(ctx, "doctor", f"--person {ctx.code}", "--apply revoked"),
                applicable=True,
            )
        return [_finding(
            ctx, "revoked", ERROR,
            f"The login was revoked on {account.revoked_at:%Y-%m-%d}"
            f"{f' ({account.reason})' if account.reason else ''}; a revoked login cannot be used again.", fix,
        )]  # fmt: skip
    findings = []
    if state == AccountState.READY_TO_REVOKE:
        findings.extend(_ready_to_revoke(ctx, account))
    if account.locked_until and account.locked_until > now:
        findings.append(_finding(
            ctx, "locked_out", ERROR,
            f"Locked after {account.failed_logins} failed logins until {account.locked_until:%Y-%m-%d %H:%M}.",
            Fix("unlock", "Unlock the login.", _cmd(ctx, "doctor", f"--person {ctx.code}", "--apply locked_out"),
                applicable=True),
        ))  # fmt: skip
    return findings


def _ready_to_revoke(ctx: Context, account: Account) -> list[Finding]:
    if account.reason == RevokeReason.DUPLICATE_USERNAME:
        return []  # username_checks explains it
    if account.reason == RevokeReason.SUPERSEDED and account.successor_id:
        successor = account.successor.sis_code
        match = IdentityMatch.objects.filter(old=ctx.person, new=account.successor).first()
        evidence = f" (match {match.score:.2f}: {', '.join(match.reasons)})" if match else ""
        return [_finding(
            ctx, "superseded", ERROR,
            f"{successor} is a newer record of the same person{evidence}; this old login sees no students.",
            Fix("transfer", f"Carry the login over to {successor}: same username and password.",
                _cmd(ctx, "transfer", ctx.code, successor), applicable=True,
                params={"old": ctx.code, "new": successor}),
        )]  # fmt: skip
    text = REASON_TEXT.get(account.reason, account.reason)
    return [_finding(
        ctx, "ready_to_revoke", ERROR, f"This login {text}; it is waiting for revocation ({account.reason}).",
        Fix("revoke", "Revoke it; if the person has another record with students, provision that one.",
            _cmd(ctx, "revoke", ctx.code), applicable=True),
    )]  # fmt: skip


def username_checks(ctx: Context) -> list[Finding]:
    """Clashes: the username the district's source gives this record is held by someone else's login."""
    field = SOURCE_FIELD.get(ctx.district.username_source)
    wanted = getattr(ctx.person, field) if field else ""
    flagged = ctx.account is not None and ctx.account.reason == RevokeReason.DUPLICATE_USERNAME
    if not wanted and not flagged:
        return []
    holder = holders(ctx.district, {username_key(wanted)}).get(username_key(wanted)) if wanted else None
    if not flagged and (holder is None or (ctx.account is not None and holder[0] == ctx.account.pk)):
        return []
    other = holder[1] if holder else "another account"
    return [_finding(
        ctx, "duplicate_username", ERROR,
        f"The username {wanted!r} (from the SIS {field}) is already used by {other}'s login; one username can "
        "belong to one login only.",
        Fix("change_username", "Give this record its own address in the SIS (staff who are parents: a personal "
            "e-mail on the parent record), or set a different username. If the other login is an old account of "
            "this person, revoke it and provision this one.",
            _cmd(ctx, "username", ctx.code, "NEW-USERNAME")),
    )]  # fmt: skip


def password_hint(ctx: Context) -> list[Finding]:
    """When the login itself is sound, the likeliest cause left is the password."""
    return [_finding(
        ctx, "check_password", INFO,
        f"The login {ctx.account.username!r} is active and not locked: if they cannot log in, the password is "
        "wrong.",
        Fix("reset_password", "Have them use 'Forgot your password' on the login page: the e-mail also gives "
            "the username.", _cmd(ctx, "doctor", f"--username {ctx.account.username}")),
    )]  # fmt: skip
