"""The token's own district and its schools. A token sees exactly one district: another's slug is 404."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest
from ninja import Router

from schoolgate.accounts.models import Account, AccountState
from schoolgate.admins import roles
from schoolgate.api.auth import ANY_LEVEL, needs
from schoolgate.api.errors import ERROR_STATUSES, ErrorOut
from schoolgate.api.schemas import DistrictOut, SchoolOut
from schoolgate.core.models import District, School

router = Router(tags=["districts"])


def _describe(district: District) -> DistrictOut:
    by_state = dict(
        Account.objects.filter(district=district).values_list("state").annotate(n=Count("id")).order_by()
    )
    return DistrictOut(
        slug=district.slug, name=district.name, guard_share=district.revoke_guard_share,
        guard_minimum=district.revoke_guard_minimum, auto_transfer=district.auto_transfer_strong_matches,
        username_source=district.username_source,
        accounts={state: by_state.get(state, 0) for state in AccountState.values},
    )  # fmt: skip


@router.get("/districts", response={200: list[DistrictOut], ERROR_STATUSES: ErrorOut}, **needs(ANY_LEVEL))
def list_districts(request: HttpRequest) -> list[DistrictOut]:
    """The districts this token works in: always exactly one, its own."""
    return [_describe(request.district)]


@router.get("/districts/{slug}", response={200: DistrictOut, ERROR_STATUSES: ErrorOut}, **needs(ANY_LEVEL))
def get_district(request: HttpRequest, slug: str) -> DistrictOut:
    """The token's district by its slug (any other slug is 404, whether or not that district exists)."""
    return _describe(request.district)


@router.get(
    "/schools", response={200: list[SchoolOut], ERROR_STATUSES: ErrorOut}, **needs(roles.VIEW_ACCOUNTS)
)
def list_schools(request: HttpRequest) -> list[SchoolOut]:
    """The district's schools and other organisations from the SIS (a school-limited level: its schools)."""
    schools = School.objects.filter(district=request.district)
    if request.access.school_limited:
        schools = schools.filter(sis_code__in=request.access.school_codes)
    return [
        SchoolOut(
            code=s.sis_code, name=s.name, type=s.org_type, parent=s.parent_code or None, in_sis=s.in_sis
        )
        for s in schools.order_by("sis_code")
    ]
