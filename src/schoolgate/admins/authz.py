"""The one authorization layer: every console view (and the API) asks it, and nothing else decides.

Tenancy first: an admin with no membership in a district gets 404 for everything in it — its existence is not
even confirmed — so an admin of district A cannot tell district B's objects from objects that do not exist.
Then permissions: a member whose role lacks a permission gets 403. School admins see and act only on people of
their schools (a contact counts when one of their linked students does).

The platform operator (a superuser) runs the service for every district but sees none of a district's people
unless granted a membership there; operator pages show cross-district health only. The `schoolgate` command
line is the server's own console and acts with full rights, as the operating-system user who runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from schoolgate.admins import roles
from schoolgate.admins.models import AdminMembership, ServiceRole
from schoolgate.core.models import District
from schoolgate.people.models import Person


@dataclass(frozen=True)
class Access:
    """What one admin may do in one district."""

    district: District
    role: str
    permissions: frozenset[str]
    school_codes: tuple[str, ...] = ()  # empty: the whole district

    def allows(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def school_limited(self) -> bool:
        return self.role == roles.SCHOOL_ADMIN


def service_levels(district: District) -> QuerySet[ServiceRole]:
    """The service-specific levels an admin of this district may hold: the district's own and the global ones
    (`district__in=[…, None]` would silently drop the global ones: SQL's IN never matches NULL)."""
    return ServiceRole.objects.filter(Q(district=district) | Q(district=None))


def permissions_of(role: str, district: District) -> frozenset[str]:
    if role in roles.ROLES:
        return roles.ROLES[role]
    if role.startswith(roles.SERVICE_PREFIX):
        key = role.removeprefix(roles.SERVICE_PREFIX)
        service = service_levels(district).filter(key=key).order_by("district").first()
        if service is not None:
            return frozenset(service.permissions) & roles.ALL
    return frozenset()


def districts_for(user: object) -> QuerySet[District]:
    """The districts this admin has a membership in (operators too: no membership, no district data)."""
    if not getattr(user, "is_authenticated", False):
        return District.objects.none()
    return District.objects.filter(admin_memberships__user=user).order_by("name")


def access_for(user: object, slug: str) -> Access | None:
    """The admin's access to the district named by `slug`; None without a membership there (or if no such
    district exists — the two are not told apart). One query: the membership with its district."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return None
    membership = (
        AdminMembership.objects.select_related("district").filter(user=user, district__slug=slug).first()
    )
    if membership is None:
        return None
    district = membership.district
    schools = tuple(membership.school_codes) if membership.role == roles.SCHOOL_ADMIN else ()
    return Access(district, membership.role, permissions_of(membership.role, district), schools)


def require(user: object, slug: str, permission: str | None) -> Access:
    """The admin's access to the district named by `slug`: 404 without membership, 403 without the permission."""
    access = access_for(user, slug)
    if access is None:
        raise Http404("no such district")
    if permission is not None and not access.allows(permission):
        raise PermissionDenied(
            f"your role ({roles.ROLE_NAMES.get(access.role, access.role)}) does not allow this"
        )
    return access


def fix_lacks(access: Access, action: str) -> str | None:
    """The permission this admin lacks to apply a doctor's fix of this action; None when they may. The fix is
    the transition itself, so it needs that transition's permission (`roles.FIX_PERMISSIONS`), not only
    DOCTOR."""
    needed = roles.FIX_PERMISSIONS[action]
    return None if access.allows(needed) else needed


def people_in_scope(access: Access) -> QuerySet[Person]:
    """The people this admin may see: everyone in the district, or a school admin's schools' people (and the
    contacts of those schools' students)."""
    people = Person.objects.filter(district=access.district)
    if not access.school_limited:
        return people
    in_schools = Q(memberships__school__sis_code__in=access.school_codes)
    linked = Q(student_links__student__memberships__school__sis_code__in=access.school_codes)
    return people.filter(in_schools | linked).distinct()
