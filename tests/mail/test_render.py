"""Rendering: built-in templates, district and platform overrides, escaping, branding, and the password
guard."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from schoolgate.mail.models import MailBranding, MailTemplate
from schoolgate.mail.render import LOGO_CID, UnknownTemplate, render
from tests.factories import make_district

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def welcome_context(**overrides):
    context = {
        "person_name": "Ana Lima",
        "activation_url": "https://portal.example/activate/tok123",
        "expires_on": datetime.date(2026, 3, 9),
        "username": "alima",
    }
    context.update(overrides)
    return context


def test_welcome_has_both_parts_with_link_expiry_username_and_district(district):
    district.name = "Springfield Schools"
    district.save()
    r = render(district, "welcome", welcome_context())
    assert r.subject == "Activate your Springfield Schools portal account"
    for part in (r.text, r.html):
        assert "https://portal.example/activate/tok123" in part
        assert "alima" in part
        assert "Springfield Schools" in part
        assert "9 March 2026" in part
        assert "only once" in part
    assert r.html.startswith("<!DOCTYPE html>") and '<html lang="en">' in r.html
    assert "<p" not in r.text


def test_welcome_without_username_says_the_person_chooses_one(district):
    r = render(district, "welcome", welcome_context(username=None))
    assert "choose your username" in r.text and "choose your username" in r.html
    assert "None" not in r.text


def test_html_is_escaped_and_text_is_not(district):
    r = render(district, "welcome", welcome_context(person_name="<b>Tom</b> & Jerry"))
    assert "&lt;b&gt;Tom&lt;/b&gt; &amp; Jerry" in r.html
    assert "<b>Tom</b>" not in r.html
    assert "Hello <b>Tom</b> & Jerry," in r.text


def test_a_line_break_in_a_value_cannot_add_a_header(district):
    district.name = "Evil\r\nBcc: victim@example.com"
    r = render(district, "welcome", welcome_context())
    assert "\n" not in r.subject and "\r" not in r.subject


@pytest.mark.parametrize("key", ["password", "temp_password", "initialPassword", "pwd", "passwd"])
def test_a_password_in_the_context_is_refused(district, key):
    with pytest.raises(ValueError, match="passwords are never sent"):
        render(district, "welcome", welcome_context(**{key: "Hunter2-Secret!"}))


def test_the_welcome_never_shows_a_password_value(district):
    r = render(district, "welcome", welcome_context())
    # The templates may talk about choosing a password, but print no credential: only the link.
    for part in (r.text, r.html):
        assert "password:" not in part.lower()
        assert "tok123" in part


def test_password_reset_states_username_and_lifetime(district):
    r = render(
        district,
        "password_reset",
        {
            "person_name": "Ana",
            "reset_url": "https://portal.example/reset/xyz",
            "expires_in_minutes": 60,
            "username": "alima",
        },
    )
    assert "alima" in r.text and "alima" in r.html
    assert "60 minutes" in r.text and "60 minutes" in r.html
    assert "https://portal.example/reset/xyz" in r.html
    assert r.subject == "Reset your Test portal password"


def test_username_reminder(district):
    r = render(district, "username_reminder", {"person_name": "Ana", "username": "alima"})
    assert "Your username: alima" in r.text
    assert "<strong>alima</strong>" in r.html


def test_district_override_beats_platform_which_beats_built_in(district):
    other = make_district(name="Other")
    MailTemplate.objects.create(
        district=None, key="welcome", subject="Platform welcome for {{ person_name }}"
    )
    MailTemplate.objects.create(
        district=district,
        key="welcome",
        subject="Kia ora {{ person_name }}",
        html_body="<p>Haere mai {{ person_name }}: <a href='{{ activation_url }}'>activate</a></p>",
    )
    mine = render(district, "welcome", welcome_context())
    assert mine.subject == "Kia ora Ana Lima"
    assert "Haere mai Ana Lima" in mine.html
    # A blank part falls back: the district has no text override and the platform none either.
    assert "only once" in mine.text
    # Still inside the branded layout.
    assert district.name in mine.html and "<!DOCTYPE html>" in mine.html
    theirs = render(other, "welcome", welcome_context())
    assert theirs.subject == "Platform welcome for Ana Lima"
    assert "Haere mai" not in theirs.html


def test_an_edited_override_is_used_by_the_next_message(district):
    row = MailTemplate.objects.create(district=district, key="welcome", subject="First {{ person_name }}")
    assert render(district, "welcome", welcome_context()).subject == "First Ana Lima"
    row.subject = "Second {{ person_name }}"
    row.save()
    assert render(district, "welcome", welcome_context()).subject == "Second Ana Lima"
    row.delete()
    assert render(district, "welcome", welcome_context()).subject.startswith("Activate your")


def test_an_override_can_add_a_new_message(district):
    MailTemplate.objects.create(
        district=district, key="term_start", subject="Term starts", text_body="Hi", html_body="<p>Hi</p>"
    )
    assert render(district, "term_start", {}).subject == "Term starts"
    with pytest.raises(UnknownTemplate, match="no mail template 'nonexistent'"):
        render(district, "nonexistent", {})


def test_override_validation_refuses_unsafe_tags_and_syntax_errors(district):
    bad = MailTemplate(
        district=district,
        key="welcome",
        subject="{% if %}",
        text_body="{% include 'x.txt' %}",
        html_body="ok",
    )
    with pytest.raises(ValidationError) as exc:
        bad.full_clean()
    assert set(exc.value.message_dict) == {"subject", "text_body"}


def test_branding_sender_name_reply_to_and_logo(district):
    MailBranding.objects.create(
        district=district, sender_name="Springfield Office", reply_to="office@springfield.example", logo=PNG
    )
    r = render(district, "welcome", welcome_context())
    assert f'src="cid:{LOGO_CID}"' in r.html
    assert "Springfield Office" in r.text and "office@springfield.example" in r.text
    assert "mailto:office@springfield.example" in r.html


def test_without_a_logo_there_is_no_image(district):
    r = render(district, "welcome", welcome_context())
    assert "<img" not in r.html and "cid:" not in r.html


def test_branding_logo_must_be_png_or_jpeg(district):
    with pytest.raises(ValidationError, match="PNG or JPEG"):
        MailBranding(district=district, logo=b"GIF89a....").full_clean()
