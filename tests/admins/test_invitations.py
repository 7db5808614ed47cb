"""Inviting admins: one person, one login — an address already administering the district is refused,
whatever the login is named."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from schoolgate.admins import roles
from schoolgate.admins.delegation import AdminChangeRejected, invite_admin
from schoolgate.admins.models import AdminInvitation, AdminMembership


def test_an_admin_is_not_invited_again_by_the_e_mail_on_their_login(district):
    """The operator's login (and older ones) are named otherwise than their e-mail: inviting that address made a
    second login for the same person."""
    operator = User.objects.create_user("operator", email="operator@demo.example", password="x" * 16)
    AdminMembership.objects.create(district=district, user=operator, role=roles.PRIMARY)
    with pytest.raises(AdminChangeRejected, match="already an admin"):
        invite_admin(district, "OPERATOR@demo.example", roles.AUDITOR, actor="test")
    assert not AdminInvitation.objects.filter(district=district).exists()
