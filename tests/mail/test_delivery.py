"""Delivery against a real SMTP server on loopback: one connection per batch, MIME structure, retries with
backoff, bounces recorded on the person, giving up, reconnecting, and the .eml file backend."""

from __future__ import annotations

import email
import email.policy
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from schoolgate.core.models import AuditEvent
from schoolgate.mail.models import MailBranding, OutboxMessage
from schoolgate.mail.outbox import enqueue
from schoolgate.mail.sender import MAX_ATTEMPTS, backoff, deliver_due
from tests.factories import make_district, make_person

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x01" * 40


def queue(district, address, person=None, key="username_reminder"):
    context = {"person_name": "Ana Lima", "username": "alima"}
    return enqueue(district, key, address, context, person=person)


def make_due(*messages):
    OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def reload(message):
    message.refresh_from_db()
    return message


def test_a_batch_of_50_goes_over_one_connection_oldest_first(district, mailserver):
    messages = [queue(district, f"parent{n}@example.com") for n in range(50)]
    report = deliver_due()
    assert (report.sent, report.retrying, report.failed) == (50, 0, 0)
    assert mailserver.connections == 1
    assert [r.rcpt_tos for r in mailserver.received] == [[m.to_address] for m in messages]
    assert all(r.mail_from == "no-reply@schools.example" for r in mailserver.received)
    for message in messages:
        reload(message)
        assert message.status == "sent" and message.attempts == 1 and message.sent_at is not None
    # Nothing is due any more: a second call does not even connect.
    assert deliver_due().claimed == 0
    assert mailserver.connections == 1


def test_the_message_is_multipart_alternative_with_headers(district, mailserver):
    MailBranding.objects.create(
        district=district, sender_name="Springfield Office", reply_to="office@sf.example"
    )
    message = queue(district, "ana@example.com")
    deliver_due()
    parsed = mailserver.received[0].message
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = parsed.get_payload()
    assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert "alima" in text.get_content() and "<strong>alima</strong>" in html.get_content()
    assert str(parsed["From"]) == "Springfield Office <no-reply@schools.example>"
    assert str(parsed["To"]) == "ana@example.com"
    assert str(parsed["Reply-To"]) == "office@sf.example"
    assert str(parsed["Subject"]) == message.subject
    assert parsed["Date"].datetime.tzinfo is not None
    assert parsed["Message-ID"].startswith(f"<outbox.{message.pk}.")
    assert parsed["Message-ID"].endswith("@schools.example>")
    assert parsed["Auto-Submitted"] == "auto-generated"


def test_the_logo_travels_inline_with_the_html(district, mailserver):
    MailBranding.objects.create(district=district, logo=PNG)
    queue(district, "ana@example.com")
    deliver_due()
    parsed = mailserver.received[0].message
    _text, related = parsed.get_payload()
    assert related.get_content_type() == "multipart/related"
    html, image = related.get_payload()
    assert 'src="cid:district-logo@schoolgate"' in html.get_content()
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"] == "<district-logo@schoolgate>"
    assert image.get_content() == PNG


def test_sender_name_defaults_to_the_district_name(district, mailserver):
    district.name = "Springfield Schools"
    district.save()
    queue(district, "ana@example.com")
    deliver_due()
    assert str(mailserver.received[0].message["From"]) == "Springfield Schools <no-reply@schools.example>"


def test_temporary_failure_retries_with_backoff_then_succeeds(district, mailserver):
    mailserver.temporary.add("busy@example.com")
    busy = queue(district, "busy@example.com")
    fine = queue(district, "fine@example.com")
    before = timezone.now()
    report = deliver_due()
    assert (report.sent, report.retrying, report.failed) == (1, 1, 0)
    reload(busy)
    assert busy.status == "retrying" and busy.attempts == 1 and "451" in busy.last_error
    assert before + timedelta(minutes=1) <= busy.next_attempt_at <= timezone.now() + timedelta(minutes=1)
    assert reload(fine).status == "sent"
    assert mailserver.connections == 1  # a refused recipient does not cost the connection
    # Not due yet: nothing is tried.
    assert deliver_due().claimed == 0
    make_due(busy)
    deliver_due()
    reload(busy)
    assert busy.status == "retrying" and busy.attempts == 2
    assert busy.next_attempt_at >= timezone.now() + timedelta(minutes=2) - timedelta(seconds=5)
    mailserver.temporary.clear()
    make_due(busy)
    assert deliver_due().sent == 1
    reload(busy)
    assert busy.status == "sent" and busy.attempts == 3 and busy.sent_at is not None
    assert len(mailserver.to("busy@example.com")) == 1


def test_backoff_doubles_and_is_capped_at_an_hour():
    assert [backoff(n) for n in range(1, 9)] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)]


def test_gives_up_after_max_attempts(district, mailserver):
    mailserver.temporary.add("busy@example.com")
    message = queue(district, "busy@example.com")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        make_due(message)
        deliver_due()
        reload(message)
        assert message.attempts == attempt
        assert message.status == ("failed" if attempt == MAX_ATTEMPTS else "retrying")
    assert message.last_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")
    assert message.next_attempt_at is None
    make_due(message)
    assert deliver_due().claimed == 0


def test_permanent_failure_fails_at_once_and_records_the_bounce(district, mailserver):
    person = make_person(district, email="Gone@Example.com")
    mailserver.permanent.add("gone@example.com")
    message = queue(district, "gone@example.com", person=person)
    other = queue(district, "fine@example.com")
    report = deliver_due()
    assert (report.sent, report.retrying, report.failed) == (1, 0, 1)
    reload(message)
    assert message.status == "failed" and message.attempts == 1 and "550" in message.last_error
    person.refresh_from_db()
    assert person.email_bounced_at is not None
    assert person.email_bounce_reason.startswith("550 5.1.1")
    event = AuditEvent.objects.get(action="person.email_bounced")
    assert event.target_id == person.pk and event.after["outbox_message"] == message.pk
    assert reload(other).status == "sent"


def test_a_message_accepted_by_the_address_on_record_clears_its_bounce(district, mailserver):
    person = make_person(district, email="back@example.com")
    mailserver.permanent.add("back@example.com")
    queue(district, "back@example.com", person=person)
    deliver_due()
    person.refresh_from_db()
    assert person.email_bounced_at is not None
    mailserver.permanent.discard("back@example.com")  # the mailbox exists again
    queue(district, "back@example.com", person=person)
    assert deliver_due().sent == 1
    person.refresh_from_db()
    assert (person.email_bounced_at, person.email_bounce_reason) == (None, "")


def test_a_bounce_for_an_address_since_replaced_is_not_recorded_on_the_person(district, mailserver):
    person = make_person(district, email="new@example.com")
    mailserver.permanent.add("old@example.com")
    message = queue(district, "old@example.com", person=person)
    deliver_due()
    assert reload(message).status == "failed"
    person.refresh_from_db()
    assert person.email_bounced_at is None


def test_a_dropped_connection_is_reopened_once_and_the_batch_goes_on(district, mailserver):
    mailserver.drop_at_mail.add(4)
    messages = [queue(district, f"p{n}@example.com") for n in range(10)]
    report = deliver_due()
    assert report.sent == 10
    assert mailserver.connections == 2
    assert sorted(r.rcpt_tos[0] for r in mailserver.received) == sorted(m.to_address for m in messages)


def test_a_second_drop_leaves_the_rest_of_the_batch_for_a_retry(district, mailserver):
    mailserver.drop_at_mail.update({3, 6})
    for n in range(10):
        queue(district, f"p{n}@example.com")
    report = deliver_due()
    # Messages 1-2 on the first connection, 3 (tried again) and 4 on the second, which drops at 5: the
    # server is given up on for this batch.
    assert (report.sent, report.retrying) == (4, 6)
    assert mailserver.connections == 2
    waiting = OutboxMessage.objects.filter(status="retrying")
    assert all("connection to the mail server" in m.last_error for m in waiting)


def test_an_unreachable_server_leaves_everything_retrying(district, settings):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.SCHOOLGATE_SMTP_URL = f"smtp://127.0.0.1:{port}?timeout=2"
    for n in range(3):
        queue(district, f"p{n}@example.com")
    report = deliver_due()
    assert (report.sent, report.retrying, report.failed) == (0, 3, 0)
    assert all("cannot connect to 127.0.0.1" in m.last_error for m in OutboxMessage.objects.all())


def test_claimed_messages_are_not_taken_by_another_worker(district, mailserver):
    from schoolgate.mail.sender import _claim

    for n in range(3):
        queue(district, f"p{n}@example.com")
    first = _claim(10)
    assert len(first) == 3
    assert _claim(10) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
def test_a_second_worker_skips_what_another_is_still_claiming():
    """While one worker's claim is still open (its rows locked, their lease not yet committed), a second worker
    takes the other due messages at once: it neither waits for the first nor takes what the first took."""
    from schoolgate.mail.sender import _claim

    district = make_district()
    for n in range(4):
        queue(district, f"p{n}@example.com")
    claimed, release, first, errors = threading.Event(), threading.Event(), [], []

    def worker():
        try:
            with transaction.atomic():
                first.extend(_claim(2))
                claimed.set()
                release.wait(10)
        except Exception as exc:  # surfaced in the main thread below
            errors.append(exc)
            claimed.set()
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert claimed.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")  # waiting for the first worker fails the test
            second = _claim(10)
    finally:
        release.set()
        thread.join(10)
    assert errors == []
    assert [m.to_address for m in first] == ["p0@example.com", "p1@example.com"]
    assert [m.to_address for m in second] == ["p2@example.com", "p3@example.com"]


def test_login_with_user_and_password_from_the_url(district, settings):
    from aiosmtpd.smtp import AuthResult

    from tests.mail.conftest import LoopbackController, RecordingHandler

    handler = RecordingHandler()

    def authenticator(server, session, envelope, mechanism, auth_data):
        handler.logins.append(f"{auth_data.login.decode()}:{auth_data.password.decode()}")
        return AuthResult(success=True)

    # Plain-text AUTH only because this is loopback; the server would otherwise insist on STARTTLS first.
    controller = LoopbackController(
        handler, hostname="127.0.0.1", port=0, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        settings.SCHOOLGATE_SMTP_URL = f"smtp://mailer%40sf:s3cr%2Ft@127.0.0.1:{controller.port}"
        queue(district, "ana@example.com")
        assert deliver_due().sent == 1
    finally:
        controller.stop()
    assert handler.logins == ["mailer@sf:s3cr/t"]


def test_without_an_smtp_url_messages_are_written_as_eml_files(district, settings, tmp_path):
    settings.SCHOOLGATE_SMTP_URL = ""
    settings.SCHOOLGATE_MAIL_DIR = tmp_path / "mail"
    messages = [queue(district, f"p{n}@example.com") for n in range(3)]
    report = deliver_due()
    assert report.sent == 3
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 3
    assert not list((tmp_path / "mail").glob("*.part"))
    raw = files[0].read_bytes()
    assert b"\r\n" in raw  # RFC 5322 line ends
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert {
        str(email.message_from_bytes(f.read_bytes(), policy=email.policy.default)["To"]) for f in files
    } == {m.to_address for m in messages}
    assert all(reload(m).status == "sent" for m in messages)


@pytest.mark.parametrize("address", ["josé@exemplo.br"])
def test_an_international_address_goes_to_a_file(district, settings, tmp_path, address):
    settings.SCHOOLGATE_SMTP_URL = ""
    settings.SCHOOLGATE_MAIL_DIR = tmp_path
    queue(district, address)
    assert deliver_due().sent == 1
    parsed = email.message_from_bytes(next(tmp_path.glob("*.eml")).read_bytes(), policy=email.policy.default)
    assert str(parsed["To"]) == address


def test_non_ascii_names_and_subjects_are_encoded_and_long_lines_wrapped(district, mailserver):
    district.name = "École Saint-Jérôme"
    district.save()
    url = "https://portal.example/activate/" + "x" * 200
    enqueue(
        district,
        "welcome",
        "ana@example.com",
        {
            "person_name": "Zoë Ōtaki",
            "activation_url": url,
            "expires_on": timezone.now().date(),
            "username": None,
        },
    )
    deliver_due()
    raw = mailserver.received[0].raw
    assert raw.isascii()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    parsed = mailserver.received[0].message
    assert str(parsed["From"]) == "École Saint-Jérôme <no-reply@schools.example>"
    assert str(parsed["Subject"]) == "Activate your École Saint-Jérôme portal account"
    text, html = parsed.get_payload()
    assert "Hello Zoë Ōtaki," in text.get_content() and url in text.get_content()
    assert f'href="{url}"' in html.get_content()


def test_an_international_address_needs_smtputf8(district, settings):
    from tests.mail.conftest import LoopbackController, RecordingHandler

    for offered, expected in ((True, "sent"), (False, "failed")):
        handler = RecordingHandler()
        controller = LoopbackController(handler, hostname="127.0.0.1", port=0, enable_SMTPUTF8=offered)
        controller.start()
        try:
            settings.SCHOOLGATE_SMTP_URL = f"smtp://127.0.0.1:{controller.port}"
            message = queue(district, "josé@exemplo.br")
            deliver_due()
        finally:
            controller.stop()
        assert reload(message).status == expected
        if offered:
            assert handler.received[0].rcpt_tos == ["josé@exemplo.br"]
            assert str(handler.received[0].message["To"]) == "josé@exemplo.br"
        else:
            assert "SMTPUTF8" in message.last_error
