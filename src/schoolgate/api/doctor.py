"""The account doctor: why can't this person log in, or see this child — and apply a finding's fix.

Fixes are applied only through `accounts.doctor.apply_fix`, which uses the same domain functions (and audit)
as every other door.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from schoolgate.accounts.doctor import Report, apply_fix, diagnose
from schoolgate.admins import authz, roles
from schoolgate.api.auth import needs, require_people
from schoolgate.api.errors import ERROR_STATUSES, ApiError, ErrorOut
from schoolgate.api.schemas import AppliedOut, ApplyIn, DiagnosisOut

router = Router(tags=["doctor"])


def _diagnose(request: HttpRequest, username: str | None, email: str | None, person: str | None,
              student: str | None) -> tuple[Report, dict]:  # fmt: skip
    asked = {
        k: v.strip()
        for k, v in (("person", person), ("username", username), ("email", email))
        if v and v.strip()
    }
    if len(asked) != 1:
        raise ApiError(422, "invalid_input", "give exactly one of person, username or email",
                       {"fields": ["person", "username", "email"], "given": sorted(asked)})  # fmt: skip
    student = (student or "").strip() or None
    require_people(request, asked.get("person", ""), student or "")
    kwargs = {**asked, "student": student}
    report = diagnose(request.district, **kwargs)
    require_people(request, *report.subjects)  # a username or e-mail may find people out of a level's scope
    return report, kwargs


@router.get("/doctor", response={200: DiagnosisOut, ERROR_STATUSES: ErrorOut}, **needs(roles.DOCTOR))
def diagnose_person(
    request: HttpRequest,
    person: str | None = Query(None, max_length=255, description="SIS code"),
    username: str | None = Query(None, max_length=320),
    email: str | None = Query(None, max_length=320),
    student: str | None = Query(None, max_length=255, description="check access to this student (SIS code)"),
) -> dict:
    """Findings for the person named by exactly one of person, username or email (optionally against one
    student), each with a concrete fix."""
    report, _ = _diagnose(request, username, email, person, student)
    return report.as_dict()


@router.post("/doctor/apply", response={200: AppliedOut, ERROR_STATUSES: ErrorOut}, **needs(roles.DOCTOR))
def apply(request: HttpRequest, payload: ApplyIn) -> dict:
    """Apply the fix of one finding (a transition: provision, resend, revoke, unlock, transfer, merge) and
    return what was done with the fresh diagnosis (the console's doctor allows the same)."""
    report, kwargs = _diagnose(request, payload.username, payload.email, payload.person, payload.student)
    finding = report.finding(payload.finding)
    if finding is not None and finding.fix.applicable:
        # Diagnosing needs DOCTOR; applying the fix is a transition and needs that transition's permission.
        lacking = authz.fix_lacks(request.auth, finding.fix.action)
        if lacking:
            level = roles.ROLE_NAMES.get(request.auth.role, request.auth.role)
            raise ApiError(403, "forbidden", f"this token's level ({level}) does not allow {lacking}, which "
                           f"the fix for {finding.code} needs", {"permission": lacking, "level": request.auth.role})  # fmt: skip
    applied = apply_fix(request.district, report, payload.finding, actor=request.actor)
    return {"applied": applied, "diagnosis": diagnose(request.district, **kwargs).as_dict()}
