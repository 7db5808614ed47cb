"""Who reaches which console page, generated from the URL patterns so that a new page cannot be forgotten.

- Anonymous visitors and portal guardians are sent to the console login.
- An admin of district A gets 404 — not 403, not data — for every object of district B: under B's URL, and
  under A's URL naming B's objects.
- Each role is refused (403) every page whose permission it lacks, and reaches the ones it has.
- The platform operator sees health, not people; operator pages do not exist for anyone else.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from schoolgate.accounts import generation, lifecycle
from schoolgate.accounts.models import Account, AccountGroup
from schoolgate.admins import roles
from schoolgate.admins.models import AdminMembership, ServiceRole
from schoolgate.console.urls import urlpatterns as console_patterns
from schoolgate.jobs.runner import run_job
from schoolgate.portal.urls import urlpatterns as portal_patterns
from schoolgate.sync.models import SyncRun
from tests.builders import write_oneroster
from tests.factories import family, log_in_admin, make_admin, make_district

# Pages anyone may open: the two login steps, logging out, and an invitation (its token is the credential).
PUBLIC = {"login", "mfa", "logout", "invitation"}
OPERATOR = {p.name for p in console_patterns if getattr(p.callback, "operator_only", False)}
DISTRICT = [p for p in console_patterns if "slug" in p.pattern.converters]


def people(prefix: str, school: str) -> list[dict]:
    rows = []
    for i in range(2):
        rows += [
            {"sourcedId": f"{prefix}k{i}", "role": "student", "orgSourcedIds": school,
             "agentSourcedIds": f"{prefix}p{i}", "familyName": f"{prefix.upper()}Kid{i}"},
            {"sourcedId": f"{prefix}p{i}", "role": "parent", "orgSourcedIds": school,
             "familyName": f"{prefix.upper()}Parent{i}", "email": f"{prefix}p{i}@example.org"},
        ]  # fmt: skip
    return rows


def populate(cli, district, tmp_path, prefix: str) -> dict:
    """A district with people in two schools, a sync run, a group, a job and an admin: real objects to ask for."""
    orgs = [{"sourcedId": f"{prefix}north", "name": "North", "type": "school"},
            {"sourcedId": f"{prefix}south", "name": "South", "type": "school"}]  # fmt: skip
    users = people(prefix, f"{prefix}north") + people(prefix + "s", f"{prefix}south")
    cli("sync", district.slug, write_oneroster(tmp_path / prefix, users=users, orgs=orgs), "--json")
    cli("group", "add", district.slug, "Parents", "--audience", "contact", "--usernames", "chosen", "--json")
    group = AccountGroup.objects.get(district=district)
    job = generation.start(group, actor="test")
    run_job(job.pk)  # so that its reports exist
    other_admin = make_admin(district, f"{prefix}-helper@example.org", roles.SUPPORT_ROLE)
    return {
        "slug": district.slug,
        "code": f"{prefix}p0",
        "run_id": SyncRun.objects.filter(district=district).latest("pk").pk,
        "group_id": group.pk,
        "job_id": job.pk,
        "kind": "pdf",
        "membership": AdminMembership.objects.get(user=other_admin, district=district).pk,
        "name": f"{prefix.upper()}Parent0",
    }


def url_for(pattern, objects: dict) -> str:
    return reverse(
        f"console:{pattern.name}", kwargs={name: objects[name] for name in pattern.pattern.converters}
    )


@pytest.fixture
def a_and_b(cli, tmp_path, settings):
    settings.SCHOOLGATE_REPORTS_DIR = tmp_path / "reports"
    a, b = make_district("alpha", name="Alpha"), make_district("bravo", name="Bravo District")
    return populate(cli, a, tmp_path, "a"), populate(cli, b, tmp_path, "b")


def test_every_console_page_is_classified():
    """A page is public, the operator's, or under a district (and then has a permission): nothing else."""
    for pattern in console_patterns:
        known = pattern.name in PUBLIC | OPERATOR | {"home", "switch", "security"} or pattern in DISTRICT
        assert known, f"console page {pattern.name!r} is not covered by the access tests"
        if pattern in DISTRICT:
            assert hasattr(pattern.callback, "required_permission"), (
                f"{pattern.name} is not behind admin_view"
            )
    assert {p.name for p in DISTRICT} >= {"dashboard", "accounts", "account_action", "person", "override",
                                          "transfer", "sync", "sync_upload", "sync_run", "sync_decide", "groups",
                                          "preview", "generate_start", "job", "job_report", "doctor",
                                          "notifications", "audit", "admins", "admins_manage", "usage"}  # fmt: skip


def test_an_admin_of_a_gets_404_for_every_object_of_b(client, a_and_b):
    a, b = a_and_b
    log_in_admin(client, make_admin(AdminMembership.objects.get(pk=a["membership"]).district))  # A's Primary
    for pattern in DISTRICT:
        for objects in (b, {**b, "slug": a["slug"]}):  # B's page; and A's page naming B's objects
            if objects["slug"] == a["slug"] and set(pattern.pattern.converters) == {"slug"}:
                continue  # A's own page with no object in the URL: not B's
            url = url_for(pattern, objects)
            for method in (client.get, client.post):
                response = method(url)
                assert response.status_code == 404, (pattern.name, url, method.__name__, response.status_code)
                assert b["name"].encode() not in response.content and b"Bravo" not in response.content
    # Objects of B named in a form under A's URL.
    manage = reverse("console:admins_manage", kwargs={"slug": a["slug"]})
    for action in ("change", "remove"):
        response = client.post(manage, {"action": action, "membership": b["membership"], "role": "auditor"})
        assert response.status_code == 404, action
    assert AdminMembership.objects.get(pk=b["membership"]).role == roles.SUPPORT_ROLE
    b_accounts = list(Account.objects.filter(district__slug=b["slug"]).values_list("pk", "state"))
    act = client.post(reverse("console:account_action", kwargs={"slug": a["slug"]}),
                      {"action": "revoke", "account": [pk for pk, _ in b_accounts], "confirmed": "yes"})  # fmt: skip
    assert act.status_code == 400, "B's accounts are not selectable from A"
    assert list(Account.objects.filter(district__slug=b["slug"]).values_list("pk", "state")) == b_accounts
    # B does not exist as far as A's admin can tell: not in the list, not reachable by switching.
    assert b"Bravo" not in client.get(reverse("console:home")).content
    switched = client.get(reverse("console:switch"), {"district": b["slug"]})
    assert switched["Location"] == reverse("console:home")


def _service_role() -> str:
    ServiceRole.objects.create(
        key="sis-bridge", name="SIS bridge", permissions=[roles.SYNC_VIEW, roles.SYNC_RUN]
    )
    return roles.SERVICE_PREFIX + "sis-bridge"


@pytest.mark.parametrize("role", [*roles.ROLES, "service"])
def test_each_role_is_refused_what_it_may_not_do(client, a_and_b, role):
    a, _ = a_and_b
    district = AdminMembership.objects.get(pk=a["membership"]).district
    if role == "service":
        role = _service_role()
    from schoolgate.admins.authz import permissions_of

    allowed = permissions_of(role, district)
    schools = ("anorth",) if role == roles.SCHOOL_ADMIN else ()
    user = make_admin(district, f"{role.replace(':', '-')}@example.org", role, schools)
    log_in_admin(client, user)
    refused = reached = 0
    for pattern in DISTRICT:
        permission = pattern.callback.required_permission
        url = url_for(pattern, a)
        if permission is not None and permission not in allowed:
            for method in (client.get, client.post):
                response = method(url)
                assert response.status_code == 403, (
                    role,
                    pattern.name,
                    method.__name__,
                    response.status_code,
                )
            refused += 1
        else:
            response = client.get(url)
            if role == roles.SCHOOL_ADMIN and pattern.name in ("job", "job_report"):
                assert response.status_code == 404, "a school admin follows only their own jobs"
                continue
            if pattern.name == "job_report" and roles.GENERATE not in allowed:
                # The job here generates accounts: its report may hold passwords (test_job_reports.py).
                assert response.status_code == 403, (
                    role,
                    "a generation report is for those who may generate",
                )
                continue
            assert response.status_code not in (403, 404), (role, pattern.name, response.status_code)
            reached += 1
    assert reached >= 3, "every role reaches its dashboard, notifications and the admin list"
    if role != roles.PRIMARY:
        assert refused >= 1, f"{role} is refused something"


def test_a_school_admin_sees_only_their_schools(client, a_and_b):
    a, _ = a_and_b
    district = AdminMembership.objects.get(pk=a["membership"]).district
    log_in_admin(client, make_admin(district, "sally@example.org", roles.SCHOOL_ADMIN, ("anorth",)))
    listing = client.get(reverse("console:accounts", kwargs={"slug": a["slug"]}))
    assert b"AParent0" in listing.content and b"ASParent0" not in listing.content
    assert client.get(reverse("console:person", kwargs={"slug": a["slug"], "code": "ap0"})).status_code == 200
    assert (
        client.get(reverse("console:person", kwargs={"slug": a["slug"], "code": "asp0"})).status_code == 404
    )
    south = Account.objects.get(person__sis_code="asp0")
    revoke = client.post(reverse("console:account_action", kwargs={"slug": a["slug"]}),
                         {"action": "revoke", "account": [south.pk], "confirmed": "yes"})  # fmt: skip
    assert revoke.status_code == 400
    assert Account.objects.get(pk=south.pk).state == south.state
    dashboard = client.get(reverse("console:dashboard", kwargs={"slug": a["slug"]}))
    shown = sum(int(n) for n in re.findall(rb"</a>: (\d+)</li>", dashboard.content))
    accounts = Account.objects.filter(district=district)
    assert shown == accounts.exclude(person__sis_code__startswith="as").count() < accounts.count(), (
        "the dashboard counts the school admin's schools' accounts only"
    )


def test_the_operator_sees_health_not_people(client, a_and_b):
    a, b = a_and_b
    operator = make_admin(None, "olga@example.org", operator=True)
    log_in_admin(client, operator)
    overview = client.get(reverse("console:operator"))
    assert overview.status_code == 200 and b"Bravo District" in overview.content
    assert b"Parent" not in overview.content and b"@example.org" not in overview.content.replace(
        b"olga@", b""
    )
    for objects in (a, b):
        for name in ("dashboard", "accounts", "audit"):
            assert client.get(reverse(f"console:{name}", kwargs={"slug": objects["slug"]})).status_code == 404
    assert (
        client.get(reverse("console:job", kwargs={"slug": a["slug"], "job_id": a["job_id"]})).status_code
        == 404
    )


def test_operator_pages_do_not_exist_for_district_admins(client, a_and_b):
    a, _ = a_and_b
    log_in_admin(client, make_admin(AdminMembership.objects.get(pk=a["membership"]).district))
    for pattern in console_patterns:
        if pattern.name in OPERATOR:
            url = reverse(f"console:{pattern.name}", kwargs={k: 1 for k in pattern.pattern.converters})
            assert client.get(url).status_code == 404 and client.post(url).status_code == 404, pattern.name


def test_a_password_alone_is_not_enough(client, district):
    """Logged in with the password but no second factor: every page asks for the code first."""
    user = make_admin(district)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("console:accounts", kwargs={"slug": district.slug}))
    assert response.status_code == 302 and response["Location"].startswith(reverse("console:mfa"))


# ---- people who are not admins -----------------------------------------------------------------------------


def console_urls(slug: str) -> list[tuple[str, str]]:
    sample = {
        "slug": slug,
        "code": "x1",
        "run_id": 1,
        "group_id": 1,
        "job_id": 1,
        "kind": "pdf",
        "request_id": 1,
    }
    return [
        (p.name, reverse(f"console:{p.name}", kwargs={n: sample[n] for n in p.pattern.converters}))
        for p in console_patterns
        if p.name not in PUBLIC
    ]


@pytest.fixture
def guardian_client(client, district):
    _, (parent,) = family(district)
    from schoolgate.accounts.reconcile import reconcile
    from schoolgate.people.evaluation import evaluate_links, evaluate_people

    evaluate_links(district)
    evaluate_people(district)
    reconcile(district, actor="test")
    account = Account.objects.get(person=parent)
    lifecycle.provision_account(account, actor="test")
    lifecycle.activate_account(account, username="guardian", password="a long passphrase", actor="test")
    login = client.post(
        f"/portal/{district.slug}/login/", {"identifier": "guardian", "password": "a long passphrase"}
    )
    assert login.status_code == 302
    assert client.get("/portal/students/").status_code == 200, "the guardian is logged in to the portal"
    return client


def test_anonymous_visitors_are_sent_to_the_console_login(client, district):
    for name, url in console_urls(district.slug):
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, (name, url, response.status_code)
            assert response["Location"].startswith("/console/login/"), (name, response["Location"])


def test_a_guardian_cannot_reach_admin_pages(guardian_client, district):
    for name, url in console_urls(district.slug):
        for method in (guardian_client.get, guardian_client.post):
            response = method(url)
            assert response.status_code == 302 and response["Location"].startswith("/console/login/"), (
                name,
                url,
            )
    assert guardian_client.get("/admin/").status_code == 404, "there is no Django admin site to reach"


def test_portal_pages_need_a_portal_login(client, district):
    for pattern in portal_patterns:
        if pattern.name not in ("students", "settings", "password", "sign_out_everywhere"):
            continue
        response = client.get(reverse(f"portal:{pattern.name}"))
        assert response.status_code in (302, 405), pattern.name
        if response.status_code == 302:
            assert response["Location"] == reverse("portal:home")


def test_deciding_an_admins_access_takes_one_query(db, django_assert_num_queries):
    """Every console request asks authz.require: the district and the admin's membership come in one query,
    and another district's slug is refused exactly like a slug that does not exist."""
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from schoolgate.admins import authz

    district, other = make_district("north-a", name="North A"), make_district("north-b", name="North B")
    admin = make_admin(district, "ruth@example.org", roles.SUPPORT_ROLE)
    with django_assert_num_queries(1):
        access = authz.require(admin, district.slug, roles.VIEW_ACCOUNTS)
    assert access.district == district and access.role == roles.SUPPORT_ROLE
    with pytest.raises(PermissionDenied):
        authz.require(admin, district.slug, roles.MANAGE_ADMINS)
    for slug in (other.slug, "no-such-district"):
        with pytest.raises(Http404):
            authz.require(admin, slug, roles.VIEW_ACCOUNTS)
