"""The admin-management form names an admin by membership id: anything that is not the id of an admin in this
district is a 404 (not a 500), and nothing changes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from schoolgate.admins import roles
from schoolgate.admins.models import AdminMembership
from tests.factories import log_in_admin, make_admin, make_district


@pytest.fixture
def primary(client, district):
    user = make_admin(district, "pat@example.org", roles.PRIMARY)
    log_in_admin(client, user)
    return user


def manage(client, district, **data):
    return client.post(reverse("console:admins_manage", kwargs={"slug": district.slug}), data)


@pytest.mark.parametrize("membership", ["abc", "", "1.5", "-1", "1e3", "٣", "99999999999999999999999999"])
@pytest.mark.parametrize("action", ["change", "remove"])
def test_a_membership_that_is_not_an_id_is_not_found(client, district, primary, action, membership):
    sam = make_admin(district, "sam@example.org", roles.SUPPORT_ROLE)
    response = manage(client, district, action=action, membership=membership, role="auditor")
    assert response.status_code == 404
    assert AdminMembership.objects.get(user=sam).role == roles.SUPPORT_ROLE


def test_another_districts_membership_is_not_found(client, district, primary):
    other = make_admin(make_district(), "sam@example.org", roles.SUPPORT_ROLE)
    theirs = AdminMembership.objects.get(user=other)
    assert manage(client, district, action="change", membership=theirs.pk, role="auditor").status_code == 404
    theirs.refresh_from_db()
    assert theirs.role == roles.SUPPORT_ROLE


def test_a_valid_id_still_changes_the_level(client, district, primary):
    sam = make_admin(district, "sam@example.org", roles.SUPPORT_ROLE)
    membership = AdminMembership.objects.get(user=sam)
    assert (
        manage(client, district, action="change", membership=membership.pk, role="auditor").status_code == 302
    )
    membership.refresh_from_db()
    assert membership.role == roles.AUDITOR
