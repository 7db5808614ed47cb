"""The outbox: messages are stored in the caller's transaction and the delivery task is queued once it
commits, once per transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from schoolgate.mail.models import OutboxMessage
from schoolgate.mail.outbox import enqueue, pending_count
from schoolgate.mail.tasks import deliver_outbox, schedule_delivery
from tests.factories import make_district, make_person

CONTEXT = {"person_name": "Ana", "username": "alima"}


class Boom(Exception):
    pass


def delivery_tasks():
    return DBTaskResult.objects.filter(task_path=deliver_outbox.module_path)


def test_enqueue_stores_the_rendered_message(district):
    person = make_person(district, email="ana@example.com")
    message = enqueue(district, "username_reminder", "ana@example.com", CONTEXT, person=person, account_id=42)
    message.refresh_from_db()
    assert message.status == "queued" and message.attempts == 0
    assert message.subject == "Your Test portal username"
    assert "alima" in message.text_body and "alima" in message.html_body
    assert message.person == person and message.account_id == 42
    assert message.next_attempt_at == message.created_at
    assert str(message) == "username_reminder to ana@example.com (queued)"


def test_a_rolled_back_transaction_sends_nothing(district, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        enqueue(district, "username_reminder", "ana@example.com", CONTEXT)
        raise Boom
    assert OutboxMessage.objects.count() == 0
    assert callbacks == []
    assert not delivery_tasks().exists()


def test_a_rolled_back_savepoint_keeps_the_outer_message_and_its_kick(
    district, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        enqueue(district, "username_reminder", "kept@example.com", CONTEXT)
        with pytest.raises(Boom), transaction.atomic():
            enqueue(district, "username_reminder", "dropped@example.com", CONTEXT)
            raise Boom
    assert list(OutboxMessage.objects.values_list("to_address", flat=True)) == ["kept@example.com"]
    assert len(callbacks) == 1


def test_a_commit_queues_one_delivery_task_for_many_messages(district, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        for n in range(5):
            enqueue(district, "username_reminder", f"p{n}@example.com", CONTEXT)
    assert len(callbacks) == 1
    task = delivery_tasks().get()
    assert task.queue_name == "mail" and task.status == "READY"


def test_no_second_run_is_queued_while_one_is_waiting(db):
    schedule_delivery()
    schedule_delivery()
    assert delivery_tasks().count() == 1
    # A run waiting for a later time does not stand in for one that is needed now …
    DBTaskResult.objects.all().delete()
    later = timezone.now() + timedelta(minutes=5)
    schedule_delivery(later)
    schedule_delivery(later + timedelta(minutes=1))
    assert delivery_tasks().count() == 1
    schedule_delivery()
    assert delivery_tasks().count() == 2
    # … and a run queued for now covers any later need.
    schedule_delivery(later)
    assert delivery_tasks().count() == 2


@pytest.mark.parametrize(
    "address",
    [
        "",
        "no-at-sign.example.com",
        "two words@example.com",
        "tab\t@example.com",
        "line\n@example.com",
        "@example.com",
        "ana@",
        "a@b@example.com",
        "Ana <ana@example.com>",
        "ana@example..com",
        "x" * 310 + "@example.com",
    ],
)
def test_obviously_invalid_addresses_are_refused_naming_them(district, address):
    with pytest.raises(ValueError) as exc:
        enqueue(district, "username_reminder", address, CONTEXT)
    assert repr(address) in str(exc.value)
    assert OutboxMessage.objects.count() == 0


def test_unusual_but_valid_addresses_are_accepted(district):
    for address in ["o'brien+school@example.co.nz", "ana@localhost", "josé@exemplo.br"]:
        enqueue(district, "username_reminder", address, CONTEXT)
    assert OutboxMessage.objects.count() == 3


def test_pending_count_per_district(district):
    other = make_district()
    enqueue(district, "username_reminder", "a@example.com", CONTEXT)
    enqueue(district, "username_reminder", "b@example.com", CONTEXT)
    sent = enqueue(other, "username_reminder", "c@example.com", CONTEXT)
    OutboxMessage.objects.filter(pk=sent.pk).update(status="sent")
    enqueue(other, "username_reminder", "d@example.com", CONTEXT)
    assert pending_count() == 3
    assert pending_count(district) == 2
    assert pending_count(other) == 1


def test_the_person_must_belong_to_the_district(district):
    stranger = make_person(make_district())
    with pytest.raises(ValueError, match="another district"):
        enqueue(district, "username_reminder", "a@example.com", CONTEXT, person=stranger)
