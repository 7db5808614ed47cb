"""Username allocation: unique in the district across kinds and case, counters that continue after existing
names and persist in UsernameStem, usernames chosen by people skipped, and a query count that does not grow
with the number of existing accounts sharing a stem."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from schoolgate.accounts.allocation import allocate, requests_from
from schoolgate.accounts.models import Account, UsernameStem
from schoolgate.accounts.naming import compile_scheme
from schoolgate.accounts.usernames import username_key
from schoolgate.people.models import Person, PersonKind
from tests.factories import make_district, make_person

DOTTED = compile_scheme("{first}.{last}")


def new_people(district, count, given="John", family="Smith", kind=PersonKind.CONTACT, **fields):
    """People waiting for a username, each with an account ready to provision."""
    now = timezone.now()
    people = [
        make_person(district, kind, given_name=given, family_name=family, **fields) for _ in range(count)
    ]
    for person in people:
        Account.objects.create(
            district=district, person=person, state="ready_to_provision", created_at=now, state_changed_at=now
        )
    return people


def holding(district, username, kind=PersonKind.CONTACT):
    """An active account that already holds `username`."""
    now = timezone.now()
    return Account.objects.create(
        district=district,
        person=make_person(district, kind),
        state="active",
        username=username,
        username_key=username_key(username),
        created_at=now,
        state_changed_at=now,
    )


def run(district, people, scheme=DOTTED, max_length=30):
    requests = requests_from(Person.objects.filter(pk__in=[p.pk for p in people]))
    return allocate(district, requests, scheme=scheme, max_length=max_length)


def names(allocation, people):
    return [allocation.usernames.get(p.pk) for p in people]


def write(district, allocation):
    """What a generation job does with the result, in the same transaction."""
    for person_id, username in allocation.usernames.items():
        Account.objects.filter(district=district, person_id=person_id).update(
            username=username, username_key=username_key(username)
        )


def counter(district, stem):
    return UsernameStem.objects.get(district=district, stem=stem).next_counter


def test_first_holder_gets_the_bare_stem_then_numbers(district):
    people = new_people(district, 3)
    allocation = run(district, people)
    assert names(allocation, people) == ["john.smith", "john.smith2", "john.smith3"]
    assert allocation.failures == {}
    assert (allocation.stems, allocation.new_stems, allocation.rounds, allocation.skipped) == (1, 1, 1, 0)


def test_with_a_counter_the_number_always_appears(district):
    people = new_people(district, 2)
    allocation = run(district, people, compile_scheme("{first:1}{last}{counter}"))
    assert names(allocation, people) == ["jsmith1", "jsmith2"]
    more = new_people(district, 1)
    assert names(run(district, more, compile_scheme("{first:1}{last}{counter:3}")), more) == ["jsmith003"]


def test_unique_across_kinds_schools_and_case(district):
    holding(district, "John.Smith", kind=PersonKind.STAFF)
    holding(district, "JOHN.SMITH2", kind=PersonKind.STUDENT)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "john") + ".smith3"  # U+FF4A …: one key after NFKC
    holding(district, full_width)
    people = new_people(district, 2)
    assert names(run(district, people), people) == ["john.smith4", "john.smith5"]


def test_counters_continue_after_existing_numbered_names(district):
    for username in ["john.smith", "john.smith2", "john.smith17", "john.smith007"]:
        holding(district, username)
    # Not in the series: other stems that merely start alike, and suffixes that are not numbers of ours.
    for username in [
        "john.smithson99",
        "john.smith.jr",
        "john.smith2x",
        "john.smith12345678901",
        "john.smit5",
    ]:
        holding(district, username)
    people = new_people(district, 2)
    allocation = run(district, people)
    assert names(allocation, people) == ["john.smith18", "john.smith19"]
    assert allocation.new_stems == 1
    assert counter(district, "john.smith") == 20


def test_a_stem_nobody_holds_starts_at_the_bare_name_even_beside_longer_ones(district):
    holding(district, "ann.leeds")
    holding(district, "ann.lee.1")
    people = new_people(district, 1, given="Ann", family="Lee")
    assert names(run(district, people), people) == ["ann.lee"]


def test_a_username_chosen_in_the_middle_of_the_sequence_is_skipped(district):
    first = new_people(district, 2)
    write(district, run(district, first))
    assert counter(district, "john.smith") == 3
    holding(district, "John.Smith3")  # chosen at activation, past the counter
    holding(district, "john.smith5")
    later = new_people(district, 3)
    allocation = run(district, later)
    assert names(allocation, later) == ["john.smith4", "john.smith6", "john.smith7"]
    assert allocation.skipped == 2
    assert counter(district, "john.smith") == 8


def test_a_long_run_of_taken_names_costs_few_rounds(district):
    write(district, run(district, new_people(district, 1)))
    for n in range(2, 40):  # all chosen by hand after the counter row was made
        holding(district, f"john.smith{n}")
    people = new_people(district, 2)
    allocation = run(district, people)
    assert names(allocation, people) == ["john.smith40", "john.smith41"]
    assert allocation.rounds <= 6


def test_two_sequential_batches_never_collide(district):
    batch_one = new_people(district, 3) + new_people(district, 2, given="Mary", family="Jones")
    one = run(district, batch_one)
    write(district, one)
    batch_two = new_people(district, 3) + new_people(district, 2, given="Mary", family="Jones")
    two = run(district, batch_two)
    assert set(one.usernames.values()).isdisjoint(two.usernames.values())
    assert names(two, batch_two) == [
        "john.smith4",
        "john.smith5",
        "john.smith6",
        "mary.jones3",
        "mary.jones4",
    ]
    assert two.new_stems == 0


def test_counters_persist_even_before_the_usernames_are_written(district):
    one = run(district, new_people(district, 2))
    # The job has not written the usernames (yet): the counter alone keeps the numbers from being reused.
    later = new_people(district, 1)
    assert names(run(district, later), later) == ["john.smith3"]
    assert set(one.usernames.values()) == {"john.smith", "john.smith2"}
    rows = UsernameStem.objects.filter(district=district).values_list("stem", "next_counter")
    assert list(rows) == [("john.smith", 4)]


def test_counters_are_per_district(district):
    other = make_district()
    holding(other, "john.smith")
    write(other, run(other, new_people(other, 2)))
    people = new_people(district, 1)
    assert names(run(district, people), people) == ["john.smith"]


def test_one_batch_never_hands_out_one_username_twice(district):
    # "ann" + number 2 would be "ann2", the stem of another person's series: both cannot have it.
    plain = compile_scheme("{first}{last}")
    anns = new_people(district, 2, given="Ann", family="")
    ann2 = new_people(district, 1, given="Ann", family="2")
    allocation = run(district, anns + ann2, plain)
    usernames = list(allocation.usernames.values())
    assert len(usernames) == len(set(usernames)) == 3
    assert sorted(usernames) == ["ann", "ann2", "ann22"]  # the series of "ann2" is ann2, ann22, …


def test_names_in_other_scripts_and_accents(district):
    people = [
        *new_people(district, 1, given="Łukasz", family="Wróbel"),
        *new_people(district, 1, given="Lukasz", family="Wrobel"),
        *new_people(district, 1, given="Дмитрий", family="Иванов"),
        *new_people(district, 1, given="小明", family="王"),
    ]
    assert names(run(district, people), people) == [
        "lukasz.wrobel",
        "lukasz.wrobel2",
        "dmitriy.ivanov",
        "xiaoming.wang",
    ]


def test_empty_names_fail_for_that_person_only(district):
    nameless = new_people(district, 1, given="", family="")
    named = new_people(district, 1)
    allocation = run(district, nameless + named)
    assert allocation.usernames == {named[0].pk: "john.smith"}
    assert "empty username" in allocation.failures[nameless[0].pk]


def test_max_length_cuts_the_stem_never_the_number(district):
    people = new_people(district, 12, given="Alexandria", family="Smithsonian")
    usernames = names(run(district, people, max_length=12), people)
    assert usernames[:3] == ["alexandria.s", "alexandria2", "alexandria3"]
    assert usernames[9:] == ["alexandria10", "alexandria11", "alexandria12"]
    assert all(len(u) <= 12 for u in usernames)


def test_when_no_number_fits_the_person_fails(district):
    holding(district, "al")
    people = new_people(district, 1, given="Al", family="")
    for n in range(2, 10):
        holding(district, f"al{n}")
    for n in range(10, 100):
        holding(district, f"a{n}")
    allocation = run(district, people, compile_scheme("{first}"), max_length=3)
    assert allocation.usernames == {}
    assert allocation.failures == {people[0].pk: "no free username of at most 3 characters for 'al'"}


def test_written_usernames_satisfy_the_unique_constraint(district):
    holding(district, "mary.jones")
    people = new_people(district, 50, given="Mary", family="Jones") + new_people(district, 50)
    write(district, run(district, people))
    keys = list(Account.objects.filter(district=district).values_list("username_key", flat=True))
    assert len(keys) == len(set(keys)) == 101


def test_duplicate_requests_and_bad_lengths_are_refused(district):
    person = new_people(district, 1)[0]
    requests = requests_from(Person.objects.filter(pk=person.pk))
    with pytest.raises(ValueError, match="appears twice"):
        allocate(district, requests * 2, scheme=DOTTED, max_length=30)
    with pytest.raises(ValueError, match="max_length"):
        allocate(district, requests, scheme=DOTTED, max_length=0)


def _bulk_holders(district, stem, count):
    """`count` existing accounts holding stem, stem2, … (set-based: this is about queries, not set-up)."""
    now = timezone.now()
    people = Person.objects.bulk_create(
        Person(district=district, sis_code=f"old-{stem}-{n}", kind=PersonKind.CONTACT, given_name="John")
        for n in range(1, count + 1)
    )
    if people[0].pk is None:  # backends that do not return ids from bulk inserts
        people = list(
            Person.objects.filter(district=district, sis_code__startswith=f"old-{stem}-").order_by("pk")
        )
    Account.objects.bulk_create(
        Account(
            district=district,
            person=person,
            state="active",
            username=stem if n == 1 else f"{stem}{n}",
            username_key=stem if n == 1 else f"{stem}{n}",
            created_at=now,
            state_changed_at=now,
        )
        for n, person in enumerate(people, start=1)
    )


def _bulk_newcomers(district, prefix, pairs):
    Person.objects.bulk_create(
        Person(
            district=district,
            sis_code=f"{prefix}-{i}",
            kind=PersonKind.CONTACT,
            given_name=given,
            family_name=family,
        )
        for i, (given, family) in enumerate(pairs)
    )
    return requests_from(Person.objects.filter(district=district, sis_code__startswith=f"{prefix}-"))


@pytest.mark.parametrize("existing", [0, 1500])
def test_queries_do_not_grow_with_existing_holders_of_a_stem(
    district, existing, django_assert_max_num_queries
):
    stems = [("John", "Smith"), ("Mary", "Jones"), ("Wei", "Wang"), ("Maria", "Garcia"), ("Ana", "Silva")]
    for given, family in stems if existing else []:
        _bulk_holders(district, f"{given}.{family}".lower(), existing)
    requests = _bulk_newcomers(district, "new", [stems[i % 5] for i in range(500)])
    assert len(requests) == 500
    # Which stems have rows, the first-number scan (JIT off and back on around it on PostgreSQL), the
    # insert (which returns the new rows, so they need no lock query), the key check, the counter write,
    # SAVEPOINT and RELEASE: 9 (7 on SQLite), the same whether 0 or 7,500 accounts already share the stems.
    with django_assert_max_num_queries(9):
        allocation = allocate(district, requests, scheme=DOTTED, max_length=30)
    assert len(allocation.usernames) == 500
    assert (allocation.rounds, allocation.skipped, allocation.new_stems) == (1, 0, 5)
    assert counter(district, "john.smith") == existing + 101
    assert ("john.smith" if not existing else f"john.smith{existing + 1}") in allocation.usernames.values()

    # The next batch finds every counter row: the existing accounts are not scanned at all (which stems
    # have rows, the lock, the key check, the counter write, SAVEPOINT and RELEASE).
    requests = _bulk_newcomers(district, "more", [stems[0]] * 100)
    with django_assert_max_num_queries(6):
        allocation = allocate(district, requests, scheme=DOTTED, max_length=30)
    assert allocation.new_stems == 0 and len(allocation.usernames) == 100
    assert counter(district, "john.smith") == existing + 201


@pytest.mark.django_db(transaction=True)
def test_allocate_refuses_to_run_outside_a_transaction():
    district = make_district()
    with pytest.raises(transaction.TransactionManagementError, match=r"inside transaction\.atomic"):
        allocate(district, [], scheme=DOTTED, max_length=30)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
def test_concurrent_allocations_wait_for_each_other_and_never_share_a_number():
    district = make_district()
    first_people = new_people(district, 3)
    second_people = new_people(district, 3)
    holding(district, "john.smith")
    first_done, results, errors = threading.Event(), {}, []

    def job(name, people, hold):
        try:
            with transaction.atomic():
                allocation = run(district, people)
                write(district, allocation)
                results[name] = allocation
                if hold:
                    first_done.set()
                    # Keep the counter row locked for a while: the second job must wait, not race.
                    threading.Event().wait(0.5)
        except Exception as exc:  # surfaced in the main thread below
            errors.append(exc)
            first_done.set()
        finally:
            connection.close()

    first = threading.Thread(target=job, args=("first", first_people, True))
    first.start()
    first_done.wait(10)
    second = threading.Thread(target=job, args=("second", second_people, False))
    second.start()
    first.join(10)
    second.join(10)
    assert errors == []
    assert names(results["first"], first_people) == ["john.smith2", "john.smith3", "john.smith4"]
    assert names(results["second"], second_people) == ["john.smith5", "john.smith6", "john.smith7"]
    assert counter(district, "john.smith") == 8
