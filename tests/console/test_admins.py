"""Delegated administration end to end, over real SMTP: invitations (password + MFA enrolment), level changes,
removal (sessions and tokens end at once), the change of Primary through the operator, the one-Primary
invariant (also under concurrent requests, on PostgreSQL), recovery codes, lockout, CSP and argon2id.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from schoolgate.admins import roles
from schoolgate.admins.delegation import (
    AdminChangeRejected,
    accept_invitation,
    decide_primary_change,
    invite_admin,
    read_invitation,
    request_primary_change,
)
from schoolgate.admins.models import AdminMembership, PrimaryChangeRequest
from schoolgate.admins.tokens import authenticate_token, create_token
from schoolgate.core.models import AuditEvent
from schoolgate.mail.sender import deliver_due
from tests.factories import ADMIN_PASSWORD, log_in_admin, make_admin, make_district

NEW_PASSWORD = "violet lighthouse 1987 tide"


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.fixture
def primary(client, district, smtp_server):
    user = make_admin(district, "pat@example.org", roles.PRIMARY)
    log_in_admin(client, user)
    return user


def manage(client, district, **data):
    return client.post(reverse("console:admins_manage", kwargs={"slug": district.slug}), data)


def test_an_invited_admin_sets_a_password_enrols_mfa_and_gets_in(client, district, primary, smtp_server):
    assert (
        manage(client, district, action="invite", email="Sam@Example.org", role="support").status_code == 302
    )
    deliver_due()
    (invitation,) = smtp_server.to("sam@example.org")
    link = re.search(r"http://testserver(/console/invitation/\S+/)", text_of(invitation)).group(1)
    (confirmation,) = smtp_server.to("pat@example.org")
    assert "sam@example.org was invited as Support" in text_of(confirmation), "the Primary is told"

    sam = Client()
    weak = sam.post(link, {"password": "short", "password2": "short"})
    assert weak.status_code == 400 and not User.objects.filter(username="sam@example.org").exists()
    accepted = sam.post(link, {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert accepted.status_code == 302 and accepted["Location"].startswith(reverse("console:mfa"))
    assert sam.get(reverse("console:dashboard", kwargs={"slug": district.slug})).status_code == 302, (
        "MFA first"
    )

    enrol = sam.get(accepted["Location"])
    assert enrol.status_code == 200 and b"data:image/svg+xml" in enrol.content, "a QR code to scan"
    device = TOTPDevice.objects.get(user__username="sam@example.org", confirmed=False)
    assert sam.post(accepted["Location"], {"code": "000000"}).status_code == 400
    throttled = sam.post(accepted["Location"], {"code": code_for(device)})
    assert throttled.status_code == 400 and b"Too many wrong codes" in throttled.content, (
        "a wrong code costs time"
    )
    time.sleep(1.1)  # django-otp's wait after one wrong code is one second
    done = sam.post(accepted["Location"], {"code": code_for(device)})
    codes = re.findall(r"<li>([a-z0-9]{8})</li>", done.content.decode())
    assert done.status_code == 200 and len(codes) == 10, "recovery codes, shown once"
    assert sam.get(reverse("console:accounts", kwargs={"slug": district.slug})).status_code == 200
    assert AdminMembership.objects.get(user__username="sam@example.org").role == roles.SUPPORT_ROLE

    assert sam.get(link).status_code == 410, "an invitation works once"
    deliver_due()
    assert any("You are now an admin" in text_of(m) for m in smtp_server.to("sam@example.org"))
    event = AuditEvent.objects.get(action="admin.added")
    assert event.district == district and event.target_label == "sam@example.org"
    for message in smtp_server.messages:
        assert NEW_PASSWORD not in message.as_string()


def test_changing_a_level_emails_the_admin_and_confirms_to_the_primary(
    client, district, primary, smtp_server
):
    sam = make_admin(district, "sam@example.org", roles.SUPPORT_ROLE)
    membership = AdminMembership.objects.get(user=sam)
    assert (
        manage(client, district, action="change", membership=membership.pk, role="auditor").status_code == 302
    )
    membership.refresh_from_db()
    assert membership.role == roles.AUDITOR
    deliver_due()
    assert "Auditor" in text_of(smtp_server.to("sam@example.org")[0])
    assert "sam@example.org is now Auditor" in text_of(smtp_server.to("pat@example.org")[0])
    own = AdminMembership.objects.get(user=primary)
    refused = manage(client, district, action="change", membership=own.pk, role="support")
    assert refused.status_code == 400 and b"change request" in refused.content
    assert manage(client, district, action="remove", membership=own.pk).status_code == 400
    assert AdminMembership.objects.get(pk=own.pk).role == roles.PRIMARY


def test_removal_ends_sessions_and_tokens_at_once(client, district, primary, smtp_server):
    sam = make_admin(district, "sam@example.org", roles.SUPPORT_ROLE)
    sam_client = Client()
    log_in_admin(sam_client, sam)
    assert sam_client.get(reverse("console:accounts", kwargs={"slug": district.slug})).status_code == 200
    raw, _ = create_token(
        district, level=roles.SUPPORT_ROLE, scope="api", name="sam's script", actor="test", user=sam
    )
    assert authenticate_token(raw, scope="api").district == district

    membership = AdminMembership.objects.get(user=sam)
    removed = manage(client, district, action="remove", membership=membership.pk, confirmed="yes")
    assert removed.status_code == 302, "confirmed (the first press only asks: test_admins_forms.py)"
    after = sam_client.get(reverse("console:accounts", kwargs={"slug": district.slug}))
    assert after.status_code == 302 and after["Location"].startswith("/console/login/"), "the session is gone"
    assert authenticate_token(raw, scope="api") is None, "the token no longer works"
    event = AuditEvent.objects.get(action="admin.removed")
    assert event.after == {"sessions_ended": 1, "tokens_revoked": 1} and event.district == district
    deliver_due()
    assert "no longer an admin" in text_of(smtp_server.to("sam@example.org")[0])
    assert "sam@example.org is no longer an admin" in text_of(smtp_server.to("pat@example.org")[0])


def test_an_admin_removed_from_one_district_keeps_working_in_another(client, district, primary, smtp_server):
    """A console session is one login for all of an admin's districts: removal from one closes that one on
    the next request, revokes their tokens there, and leaves the session (and the other district) alone."""
    other = make_district("other")
    sam = make_admin(district, "sam@example.org", roles.SUPPORT_ROLE)
    make_admin(other, "sam@example.org", roles.SUPPORT_ROLE)
    sam_client = Client()
    log_in_admin(sam_client, sam)
    here, there = (reverse("console:accounts", kwargs={"slug": d.slug}) for d in (district, other))
    assert sam_client.get(here).status_code == 200 and sam_client.get(there).status_code == 200
    raw, _ = create_token(district, level=roles.SUPPORT_ROLE, scope="api", name="s", actor="test", user=sam)
    kept, _ = create_token(other, level=roles.SUPPORT_ROLE, scope="api", name="s", actor="test", user=sam)

    membership = AdminMembership.objects.get(user=sam, district=district)
    removed = manage(client, district, action="remove", membership=membership.pk, confirmed="yes")
    assert removed.status_code == 302, "confirmed (the first press only asks: test_admins_forms.py)"

    assert sam_client.get(here).status_code == 404, "the district refuses them at once"
    assert sam_client.get(there).status_code == 200, "still logged in where they are still an admin"
    assert authenticate_token(raw, scope="api") is None and authenticate_token(kept, scope="api") is not None
    event = AuditEvent.objects.get(action="admin.removed")
    assert event.after == {"sessions_ended": 0, "tokens_revoked": 1}


def test_a_token_never_reaches_another_district(district):
    other = make_district("other")
    raw, _ = create_token(other, level=roles.AUDITOR, scope="scim", name="peer", actor="test")
    access = authenticate_token(raw, scope="scim")
    assert access.district == other and access.district != district
    assert authenticate_token(raw, scope="api") is None, "a SCIM token is not an API token"
    with pytest.raises(AdminChangeRejected):
        create_token(district, level=roles.PRIMARY, scope="api", name="too strong", actor="test")


def test_the_primary_changes_only_when_the_operator_validates(client, district, primary, smtp_server):
    sam = make_admin(district, "sam@example.org", roles.SUPPORT_ROLE)
    asked = manage(client, district, action="primary", email="sam@example.org", reason="Pat retires in June")
    assert asked.status_code == 302
    assert AdminMembership.objects.get(user=primary).role == roles.PRIMARY, (
        "nothing changes before validation"
    )
    assert (
        manage(client, district, action="primary", email="sam@example.org", reason="again").status_code == 400
    )
    deliver_due()
    assert "was sent to the platform operator" in text_of(smtp_server.to("sam@example.org")[0])
    assert "was sent to the platform operator" in text_of(smtp_server.to("pat@example.org")[0])

    operator = Client()
    log_in_admin(operator, make_admin(None, "olga@example.org", operator=True))
    page = operator.get(reverse("console:operator"))
    assert b"Pat retires in June" in page.content
    request = PrimaryChangeRequest.objects.get()
    decided = operator.post(reverse("console:operator_decide", kwargs={"request_id": request.pk}),
                            {"decision": "approve", "note": "checked by phone"})  # fmt: skip
    assert decided.status_code == 302
    assert AdminMembership.objects.get(user=sam).role == roles.PRIMARY
    assert AdminMembership.objects.get(user=primary).role == roles.SUPPORT_ROLE
    assert AdminMembership.objects.filter(district=district, role=roles.PRIMARY).count() == 1
    deliver_due()
    for address in ("sam@example.org", "pat@example.org"):
        assert "was validated" in text_of(smtp_server.to(address)[-1]), address
    event = AuditEvent.objects.get(action="primary.changed")
    assert event.district == district and event.before == {"primary": ["pat@example.org"]}
    again = operator.post(
        reverse("console:operator_decide", kwargs={"request_id": request.pk}), {"decision": "reject"}
    )
    assert again.status_code == 400, "a decided request stays decided"


def test_a_rejected_request_changes_nothing(district, smtp_server):
    pat = make_admin(district, "pat@example.org", roles.PRIMARY)
    make_admin(district, "sam@example.org", roles.AUDITOR)
    request = request_primary_change(district, pat, "sam@example.org", "holiday cover", actor="test")
    decide_primary_change(request, approve=False, actor="operator:olga", note="use Support for cover")
    assert AdminMembership.objects.get(user=pat).role == roles.PRIMARY
    assert AdminMembership.objects.get(user__username="sam@example.org").role == roles.AUDITOR
    deliver_due()
    assert "was rejected" in text_of(smtp_server.to("sam@example.org")[-1])
    assert "use Support for cover" in text_of(smtp_server.to("pat@example.org")[-1])


def test_the_database_allows_one_primary_per_district(district):
    make_admin(district, "pat@example.org", roles.PRIMARY)
    other = make_admin(None, "sam@example.org")
    with pytest.raises(IntegrityError), transaction.atomic():
        AdminMembership.objects.create(user=other, district=district, role=roles.PRIMARY, created_by="test")
    with pytest.raises(AdminChangeRejected, match="already has a Primary"):
        invite_admin(district, "sam@example.org", roles.PRIMARY, actor="test", allow_primary=True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions: PostgreSQL")
def test_one_primary_under_concurrent_requests():
    """Two people accept Primary invitations at the same instant, and two validated requests race: every time,
    the district ends with exactly one Primary and the loser gets a clear refusal."""
    district = make_district()
    invitations = []
    for email in ("ann@example.org", "bob@example.org"):
        _, token = invite_admin(district, email, roles.PRIMARY, actor="test", allow_primary=True)
        invitations.append((read_invitation(token), make_admin(None, email)))
    barrier, outcomes = threading.Barrier(2), []

    def accept(invitation, user):
        try:
            barrier.wait(5)
            accept_invitation(invitation, user, actor="test")
            outcomes.append("ok")
        except AdminChangeRejected as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=pair) for pair in invitations]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes)[-1] == "ok" and sum(o == "ok" for o in outcomes) == 1, outcomes
    assert AdminMembership.objects.filter(district=district, role=roles.PRIMARY).count() == 1

    # Two pending requests (made before the one-pending rule could see each other) validated at once.
    current = AdminMembership.objects.get(district=district, role=roles.PRIMARY).user
    candidates = [make_admin(district, f"c{i}@example.org", roles.SUPPORT_ROLE) for i in range(2)]
    requests = [PrimaryChangeRequest.objects.create(district=district, requested_by=current.username,
                                                    new_primary_email=c.username, reason="race") for c in candidates]  # fmt: skip
    barrier, errors = threading.Barrier(2), []

    def approve(request):
        try:
            barrier.wait(5)
            decide_primary_change(request, approve=True, actor="operator:test")
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    primaries = list(
        AdminMembership.objects.filter(district=district, role=roles.PRIMARY).values_list(
            "user__username", flat=True
        )
    )
    assert len(primaries) == 1 and primaries[0] in {c.username for c in candidates}


def test_a_recovery_code_works_once(district):
    user = make_admin(district, "pat@example.org", roles.PRIMARY)
    from django_otp.plugins.otp_static.models import StaticDevice

    device = StaticDevice.objects.create(user=user, name="Recovery codes")
    device.token_set.create(token="rescue42")
    first = Client()
    login = first.post(reverse("console:login"), {"username": "pat@example.org", "password": ADMIN_PASSWORD})
    assert login.status_code == 302 and login["Location"].startswith(reverse("console:mfa"))
    assert first.post(reverse("console:mfa"), {"code": "rescue42"}).status_code == 302
    assert first.get(reverse("console:dashboard", kwargs={"slug": district.slug})).status_code == 200
    assert not StaticToken.objects.filter(token="rescue42").exists()
    second = Client()
    second.post(reverse("console:login"), {"username": "pat@example.org", "password": ADMIN_PASSWORD})
    assert second.post(reverse("console:mfa"), {"code": "rescue42"}).status_code == 400, "used up"
    assert AuditEvent.objects.filter(action="admin.recovery_code_used").count() == 1


def test_new_recovery_codes_replace_the_old_ones(client, district, primary):
    page = client.post(reverse("console:security"), {"action": "recovery_codes"})
    codes = re.findall(r"<li>([a-z0-9]{8})</li>", page.content.decode())
    assert len(codes) == 10 and StaticToken.objects.filter(device__user=primary).count() == 10


def test_repeated_failures_lock_the_account_and_the_address(district):
    make_admin(district, "pat@example.org", roles.PRIMARY)
    attacker = Client()
    for _ in range(5):
        attacker.post(reverse("console:login"), {"username": "pat@example.org", "password": "guess"})
    locked = attacker.post(
        reverse("console:login"), {"username": "pat@example.org", "password": ADMIN_PASSWORD}
    )
    assert locked.status_code == 429 and b"Too many failed attempts" in locked.content, (
        "even the right password"
    )
    other_ip = Client(REMOTE_ADDR="10.0.0.9")
    still = other_ip.post(
        reverse("console:login"), {"username": "pat@example.org", "password": ADMIN_PASSWORD}
    )
    assert still.status_code == 429, "the account is locked whatever the address"
    make_admin(district, "sam@example.org", roles.SUPPORT_ROLE)
    spray = Client(REMOTE_ADDR="10.0.0.7")
    for i in range(5):
        spray.post(reverse("console:login"), {"username": f"user{i}@example.org", "password": "guess"})
    blocked = spray.post(
        reverse("console:login"), {"username": "sam@example.org", "password": ADMIN_PASSWORD}
    )
    assert blocked.status_code == 429, "an address that keeps failing is locked too"


def lock_out(district, email: str = "pat@example.org"):
    """Five wrong passwords, then the right one: the lockout page."""
    make_admin(district, email, roles.PRIMARY)
    attacker = Client()
    for _ in range(5):
        attacker.post(reverse("console:login"), {"username": email, "password": "guess"})
    return attacker.post(reverse("console:login"), {"username": email, "password": ADMIN_PASSWORD})


def test_the_lockout_page_says_how_long_in_words_and_who_can_help(district):
    locked = lock_out(district)
    text = locked.content.decode()
    assert locked.status_code == 429
    assert "Try again in 15 minutes." in text and "PT15M" not in text, "a duration people read, not ISO 8601"
    # The admin locked out may be the Primary admin (or the operator): "ask your Primary admin" helps no one.
    # Only the operator, from the server's command line, can lift an admin login's lock early.
    assert "Primary admin" not in text
    assert "platform operator" in text
    assert "schoolgate axes_reset_username" in text and "schoolgate changepassword" in text


def test_the_command_the_lockout_page_names_lifts_the_lock(district, cli):
    assert lock_out(district).status_code == 429
    assert cli("axes_reset_username", "pat@example.org").code == 0
    again = Client().post(
        reverse("console:login"), {"username": "pat@example.org", "password": ADMIN_PASSWORD}
    )
    assert again.status_code == 302 and again["Location"].startswith(reverse("console:mfa"))


def test_the_lockout_page_follows_the_configured_cool_off(district, settings):
    # In hours, as settings.py derives it from SCHOOLGATE_ADMIN_LOCKOUT_MINUTES=90.
    settings.AXES_COOLOFF_TIME = 1.5
    assert "Try again in 1 hour and 30 minutes." in lock_out(district).content.decode()


def test_pages_carry_a_strict_content_security_policy(client, district, primary):
    response = client.get(reverse("console:dashboard", kwargs={"slug": district.slug}))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
    assert b"<style" not in response.content and b' style="' not in response.content


def test_an_older_password_hash_is_upgraded_at_login(district, settings):
    user = make_admin(district, "pat@example.org", roles.PRIMARY)
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]
    user.set_password(ADMIN_PASSWORD)
    user.save()
    assert user.password.startswith("pbkdf2_sha256$")
    settings.PASSWORD_HASHERS = settings.PASSWORD_HASHERS[1:]
    assert (
        Client()
        .post(reverse("console:login"), {"username": "pat@example.org", "password": ADMIN_PASSWORD})
        .status_code
        == 302
    )
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_a_global_service_level_can_be_given_in_any_district(district):
    """A service level defined for every district (no district of its own) is a valid role everywhere; one
    defined for another district is not."""
    from schoolgate.admins.delegation import AdminChangeRejected, check_role
    from schoolgate.admins.models import ServiceRole
    from schoolgate.core.districts import create_district

    ServiceRole.objects.create(district=None, key="lms", name="LMS bridge", permissions=["accounts.view"])
    other = create_district("other", "Other", actor="test")
    ServiceRole.objects.create(district=other, key="theirs", name="Theirs", permissions=["accounts.view"])
    assert check_role(district, "service:lms") == []
    with pytest.raises(AdminChangeRejected, match="no service level 'theirs'"):
        check_role(district, "service:theirs")


def test_an_invitation_to_an_existing_login_by_its_email_lands_on_that_login(client, district):
    """The operator's login is named 'operator' and carries operator@example.org: invited by that address to
    another district, accepting adds the membership to the same login (no second login for one person)."""
    operator = make_admin(district, "operator@example.org", roles.SUPPORT_ROLE)
    User.objects.filter(pk=operator.pk).update(username="operator")
    operator.refresh_from_db()
    other = make_district("other-district", name="Other District")
    _, token = invite_admin(other, "operator@example.org", roles.AUDITOR, actor="test")
    link = reverse("console:invitation", kwargs={"token": token})

    assert client.get(link).status_code == 302, "an existing admin logs in first"
    log_in_admin(client, operator)
    page = client.get(link)
    assert page.status_code == 200 and b"Choose a password" not in page.content
    accepted = client.post(link)
    assert accepted.status_code == 302 and accepted["Location"].endswith("/console/other-district/")
    assert client.get(accepted["Location"]).status_code == 200
    assert User.objects.filter(email__iexact="operator@example.org").count() == 1
    assert AdminMembership.objects.get(district=other).user_id == operator.pk


def test_an_invitation_opened_while_someone_else_is_signed_in_makes_no_login(client, district, primary):
    _, token = invite_admin(district, "newcomer@example.org", roles.AUDITOR, actor="test")
    link = reverse("console:invitation", kwargs={"token": token})
    for answer in (
        client.get(link),
        client.post(link, {"password": NEW_PASSWORD, "password2": NEW_PASSWORD}),
    ):
        assert answer.status_code == 409 and b"signed in to the console as pat@example.org" in answer.content
    assert not User.objects.filter(username="newcomer@example.org").exists()
    assert not AdminMembership.objects.filter(user__username="newcomer@example.org").exists()
