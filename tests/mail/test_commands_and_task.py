"""`schoolgate mail deliver|list|branding`, the `deliver_outbox` task, and the SMTP URL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from schoolgate.mail.models import MailBranding, OutboxMessage
from schoolgate.mail.outbox import enqueue
from schoolgate.mail.sender import SmtpConfig, deliver_due, parse_smtp_url
from schoolgate.mail.tasks import deliver_outbox
from tests.factories import make_district, make_person

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def queue(district, address, **kwargs):
    return enqueue(
        district, "username_reminder", address, {"person_name": "Ana", "username": "ana"}, **kwargs
    )


def test_deliver_command_json(cli, district, mailserver):
    mailserver.temporary.add("busy@example.com")
    mailserver.permanent.add("gone@example.com")
    for address in ("a@example.com", "b@example.com", "busy@example.com", "gone@example.com"):
        queue(district, address)
    result = cli("mail", "deliver", "--json")
    assert result.code == 0
    assert result.json == {"sent": 2, "retrying": 1, "failed": 1, "pending": 1}
    again = cli("mail", "deliver", "--json")
    assert again.json == {"sent": 0, "retrying": 0, "failed": 0, "pending": 1}


def test_deliver_command_text_and_small_batches(cli, district, mailserver):
    for n in range(5):
        queue(district, f"p{n}@example.com")
    result = cli("mail", "deliver", "--batch", "2")
    assert result.code == 0
    assert result.stdout.strip() == "sent 5, retrying 0, failed 0; 0 still waiting"
    assert mailserver.connections == 3  # 2 + 2 + 1


def test_deliver_command_rejects_a_malformed_smtp_url(cli, district, settings):
    settings.SCHOOLGATE_SMTP_URL = "http://mail.example"
    queue(district, "a@example.com")
    result = cli("mail", "deliver", "--json")
    assert result.code == 1
    assert "smtp://" in result.json["error"]


def test_list_command_filters_by_status_and_district(cli, district, mailserver):
    other = make_district()
    person = make_person(district, code="p1", email="gone@example.com")
    mailserver.permanent.add("gone@example.com")
    queue(district, "gone@example.com", person=person, account_id=7)
    queue(district, "fine@example.com")
    queue(other, "elsewhere@example.com")
    cli("mail", "deliver")
    listing = cli("mail", "list", district.slug, "--json").json
    assert listing["total"] == 2
    assert {m["to"] for m in listing["messages"]} == {"gone@example.com", "fine@example.com"}
    failed = cli("mail", "list", district.slug, "--status", "failed", "--json").json
    assert failed["total"] == 1
    (row,) = failed["messages"]
    assert row["to"] == "gone@example.com" and row["person"] == "p1" and row["account_id"] == 7
    assert row["attempts"] == 1 and row["last_error"].startswith("550")
    assert cli("mail", "list", "nowhere", "--json").code == 1
    assert cli("mail", "list", district.slug, "--status", "lost").code == 2


def test_branding_command_sets_name_reply_to_and_logo(cli, district, tmp_path):
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    result = cli(
        "mail", "branding", district.slug, "--sender-name", "SF Office", "--reply-to", "office@sf.example",
        "--logo", str(logo), "--json",
    )  # fmt: skip
    assert result.code == 0
    assert result.json["branding"] == {
        "sender_name": "SF Office",
        "sender_name_set": True,
        "reply_to": "office@sf.example",
        "logo": {"content_type": "image/png", "bytes": len(PNG)},
    }
    assert MailBranding.objects.get(district=district).logo_content_type == "image/png"
    gif = tmp_path / "logo.gif"
    gif.write_bytes(b"GIF89a")
    refused = cli("mail", "branding", district.slug, "--logo", str(gif), "--json")
    assert refused.code == 1 and "PNG or JPEG" in refused.json["error"]
    removed = cli("mail", "branding", district.slug, "--no-logo", "--json").json
    assert removed["branding"]["logo"] is None


def test_the_task_delivers_and_requeues_itself_for_the_earliest_retry(district, mailserver):
    mailserver.temporary.add("busy@example.com")
    queue(district, "fine@example.com")
    busy = queue(district, "busy@example.com")
    result = deliver_outbox.call()
    assert result == {"sent": 1, "retrying": 1, "failed": 0}
    busy.refresh_from_db()
    follow_up = DBTaskResult.objects.get(task_path=deliver_outbox.module_path)
    assert follow_up.queue_name == "mail" and follow_up.status == "READY"
    assert follow_up.run_after == busy.next_attempt_at


def test_the_task_does_not_requeue_when_nothing_waits(district, mailserver):
    queue(district, "fine@example.com")
    assert deliver_outbox.call() == {"sent": 1, "retrying": 0, "failed": 0}
    assert not DBTaskResult.objects.filter(task_path=deliver_outbox.module_path).exists()


def test_the_task_runs_through_the_database_worker(transactional_db, district, mailserver):
    """The real path: the queued task row is picked up and run by django_tasks_db's worker code (outside a
    test transaction, as the worker commits its own)."""
    from django_tasks_db.management.commands.db_worker import Worker

    queue(district, "fine@example.com")  # committed at once: its commit queued the task
    assert DBTaskResult.objects.get().status == "READY"
    Worker(
        queue_names=["mail"], interval=0, batch=True, backend_name="default", startup_delay=False,
        max_tasks=None, worker_id="test", excluded_queue_names=[],
    ).run()  # fmt: skip
    assert OutboxMessage.objects.get().status == "sent"
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example", SmtpConfig("mail.example", 25, False)),
        ("smtp://mail.example:2525?timeout=5", SmtpConfig("mail.example", 2525, False, timeout=5.0)),
        ("smtps://u%40x:p%2Fw@mail.example", SmtpConfig("mail.example", 465, True, "u@x", "p/w")),
        ("smtp://user:pass@10.0.0.1:587", SmtpConfig("10.0.0.1", 587, False, "user", "pass")),
    ],
)
def test_smtp_url(url, expected):
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example", "smtp:// or smtps://"),
        ("smtp://", "names no host"),
        ("smtp://mail.example?tls=yes", "unknown option"),
        ("smtp://mail.example?timeout=soon", "SCHOOLGATE_SMTP_URL"),
        ("smtp://mail.example?timeout=0", "more than 0"),
        ("smtp://mail.example:99999", "SCHOOLGATE_SMTP_URL"),
    ],
)
def test_malformed_smtp_urls(url, message):
    with pytest.raises(ValueError, match=message):
        parse_smtp_url(url)


def test_the_password_is_not_in_the_config_repr():
    assert "hunter2" not in repr(parse_smtp_url("smtp://u:hunter2@mail.example"))


def test_a_message_due_later_is_not_claimed(district, mailserver):
    message = queue(district, "later@example.com")
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=3))
    assert deliver_outbox.call() == {"sent": 0, "retrying": 0, "failed": 0}
    assert DBTaskResult.objects.get().run_after > timezone.now() + timedelta(minutes=2)


def test_a_malformed_smtp_url_claims_nothing(district, settings):
    settings.SCHOOLGATE_SMTP_URL = "smtp://mail.example?tls=maybe"
    message = queue(district, "a@example.com")
    with pytest.raises(ValueError, match="unknown option"):
        deliver_due()
    message.refresh_from_db()
    assert message.attempts == 0 and message.next_attempt_at <= timezone.now()


def test_the_task_pauses_when_the_server_answers_nothing(district, settings, monkeypatch):
    import socket

    from schoolgate.mail import sender, tasks

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.SCHOOLGATE_SMTP_URL = f"smtp://127.0.0.1:{port}?timeout=2"
    for n in range(3):
        queue(district, f"p{n}@example.com")
    # Batches of one: the first comes back with no answer, so the drain stops with two messages still due.
    monkeypatch.setattr(tasks, "drain", lambda: sender.drain(batch_size=1))
    assert deliver_outbox.call() == {"sent": 0, "retrying": 1, "failed": 0}
    assert OutboxMessage.objects.filter(attempts=0).count() == 2
    follow_up = DBTaskResult.objects.get()
    assert follow_up.run_after > timezone.now() + timedelta(seconds=50)
