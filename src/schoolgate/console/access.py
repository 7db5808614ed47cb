"""Who may use a console page: every view is wrapped by `admin_view(permission)` or `operator_view`.

`admin_view` requires a logged-in admin who has passed the second factor (TOTP or a recovery code), then asks
the one authorization layer (`schoolgate.admins.authz.require`) for the district in the URL: 404 if the admin
has no membership there (an admin of one district cannot even confirm another exists), 403 if their role
lacks the permission. The view gets `request.district` and `request.access` and looks nothing up without them.

`operator_view` is for the platform operator's pages (superusers, also after MFA): districts and health,
never a district's people. Anyone else gets 404 there.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from schoolgate.admins import authz
from schoolgate.people.models import Person

View = Callable[..., HttpResponse]


def actor_of(request: HttpRequest) -> str:
    """The audit actor for an admin's request."""
    return f"admin:{request.user.get_username()}"


def scope_of(request: HttpRequest) -> QuerySet[Person] | None:
    """The people a school admin may see and act on; None when the admin's scope is the whole district."""
    access = request.access  # type: ignore[attr-defined]
    return authz.people_in_scope(access) if access.school_limited else None


def require_people(request: HttpRequest, *codes: str) -> None:
    """404 unless every person named (by SIS code) is in the admin's scope; a no-op for district-wide admins."""
    scope = scope_of(request)
    wanted = {code for code in codes if code}
    if scope is not None and scope.filter(sis_code__in=wanted).count() != len(wanted):
        raise Http404("no such person")


def school_limit(request: HttpRequest) -> dict[str, Any]:
    """Filter arguments limiting School rows to a school admin's schools (none for district-wide admins)."""
    access = request.access  # type: ignore[attr-defined]
    return {"sis_code__in": access.school_codes} if access.school_limited else {}


def _second_factor_or_login(request: HttpRequest) -> HttpResponse | None:
    """A redirect to the login or to the second-factor step, or None when the admin is fully logged in."""
    user = request.user
    if not (user.is_authenticated and user.is_active):
        return redirect_to_login(request.get_full_path(), "console:login")
    if not user.is_verified():
        return redirect(reverse("console:mfa") + "?" + urlencode({"next": request.get_full_path()}))
    return None


def _url_objects() -> dict[str, tuple[type[Model], str]]:
    from schoolgate.accounts.models import AccountGroup
    from schoolgate.jobs.models import Job
    from schoolgate.sync.models import SyncRun

    return {"code": (Person, "sis_code"), "run_id": (SyncRun, "pk"), "group_id": (AccountGroup, "pk"),
            "job_id": (Job, "pk")}  # fmt: skip


URL_VALUES = {"kind"}  # URL parts that name no object (a report's format)


def _require_url_objects(request: HttpRequest, kwargs: dict[str, Any]) -> None:
    """404 unless every object the URL names belongs to the district (and to a school admin's scope).

    Checked here, before the view and before its method check, so that no view can forget it: another
    district's object is "not found" whatever the page or the HTTP method.
    """
    objects = _url_objects()
    for name, value in kwargs.items():
        if name in URL_VALUES:
            continue
        model, field = objects[name]  # a new kind of URL object must be added here
        # A person is looked for among the people the admin may see (one query: not there, or not theirs).
        scope = scope_of(request) if name == "code" else None
        candidates = model.objects.filter(district=request.district) if scope is None else scope
        if not candidates.filter(**{field: value}).exists():
            raise Http404(f"no such {model._meta.verbose_name}")


def admin_view(permission: str | None) -> Callable[[View], View]:
    """Require a verified admin; resolve `slug` to the district they administer (404) with `permission` (403).

    `permission=None` admits every member of the district (their notifications, say).
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            refused = _second_factor_or_login(request)
            if refused is not None:
                return refused
            slug = kwargs.pop("slug", None)
            if slug is not None:
                access = authz.require(request.user, slug, permission)
                request.district, request.access = access.district, access  # type: ignore[attr-defined]
                _require_url_objects(request, kwargs)
            return view(request, *args, **kwargs)

        wrapper.required_permission = permission  # type: ignore[attr-defined]  # read by the generated tests
        return wrapper

    return decorate


def operator_view(view: View) -> View:
    """Require a verified platform operator; anyone else gets 404 (the pages do not exist for them)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = _second_factor_or_login(request)
        if refused is not None:
            return refused
        if not request.user.is_superuser:
            raise Http404("no such page")
        return view(request, *args, **kwargs)

    wrapper.operator_only = True  # type: ignore[attr-defined]
    return wrapper
