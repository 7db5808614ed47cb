"""Defining an account group (`accounts.groups.define_group`), the one door for `schoolgate group add` and the
console: a valid group is stored and audited; each wrong field is named, and leaves the district as it was."""

from __future__ import annotations

import pytest

from schoolgate.accounts.groups import GroupRejected, define_group, describe
from schoolgate.accounts.models import AccountGroup
from schoolgate.core.models import AuditEvent, School
from tests.factories import make_district

VALID = {"name": "Parents", "audience": "contact", "schools": ["north"], "grades": [],
         "usernames": "scheme", "scheme": "{first:1}{last}{counter}", "max_length": 20,
         "passwords": "generated", "must_change": False, "min_length": 12}  # fmt: skip


@pytest.fixture
def schools(district):
    for code, name in (("north", "North High"), ("south", "South Middle")):
        School.objects.create(district=district, sis_code=code, name=name, org_type="school")
    return district


def nothing_written(district) -> bool:
    audited = AuditEvent.objects.filter(district=district, action__startswith="group.")
    return not AccountGroup.objects.filter(district=district).exists() and not audited.exists()


def test_a_valid_group_is_stored_as_given_and_audited(schools):
    group = define_group(schools, **{**VALID, "grades": [" 09 ", "10", "09"]}, actor="admin:ada@example.org")
    stored = AccountGroup.objects.get(pk=group.pk)
    assert stored.district == schools
    assert describe(stored) == {**VALID, "grades": ["09", "10"]}, "grades trimmed, each once"
    event = AuditEvent.objects.get(district=schools, action="group.added")
    assert (event.actor, event.target_type, event.target_id) == (
        "admin:ada@example.org",
        "account_group",
        group.pk,
    )
    assert event.target_label == "Parents" and event.after == describe(stored)


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"name": "  "}, "name", "needs a name"),
        ({"name": "x" * 101}, "name", "100 characters"),
        ({"audience": "parent"}, "audience", "'parent'"),
        ({"usernames": "email"}, "usernames", "'email'"),
        ({"scheme": "{first}.{nickname}"}, "scheme", "nickname"),
        ({"scheme": "{first" + "x" * 100 + "}"}, "scheme", "100 characters"),
        ({"max_length": 2}, "max_length", "between 3 and 150"),
        ({"max_length": 151}, "max_length", "between 3 and 150"),
        ({"passwords": "emailed"}, "passwords", "'emailed'"),
        ({"min_length": 7}, "min_length", "between 8 and 128"),
        ({"min_length": 129}, "min_length", "between 8 and 128"),
        ({"grades": ["9,10"]}, "grades", "'9,10'"),
        ({"schools": ["north", "atlantis"]}, "schools", "'atlantis'"),
        # Combinations that generation could never carry out (each made every account of the group fail):
        ({"scheme": "{first}.{counter:2}", "max_length": 3}, "scheme", "leaves no room for a name"),
        ({"usernames": "chosen", "passwords": "generated"}, "passwords", "need a username to go with them"),
    ],
)
def test_each_wrong_field_is_named_and_nothing_is_written(schools, change, field, says):
    with pytest.raises(GroupRejected) as rejected:
        define_group(schools, **{**VALID, **change}, actor="test")
    assert rejected.value.field == field and says in rejected.value.message
    assert set(rejected.value.errors) == {field}, "only the wrong field is named"
    assert nothing_written(schools)


def test_every_wrong_field_is_named_at_once(schools):
    with pytest.raises(GroupRejected) as rejected:
        define_group(schools, **{**VALID, "scheme": "{", "max_length": 1, "schools": ["nope"]}, actor="test")
    assert set(rejected.value.errors) == {"scheme", "max_length", "schools"}
    assert nothing_written(schools)


def test_a_scheme_is_compiled_only_when_usernames_come_from_it(schools):
    """The CLI has always stored the scheme of a group whose usernames come from elsewhere unchecked."""
    group = define_group(schools, **{**VALID, "usernames": "chosen", "passwords": "activation", "scheme": "{unused"},
                         actor="test")  # fmt: skip
    assert group.naming_scheme == "{unused"


def test_a_school_of_another_district_is_unknown_here(schools):
    other = make_district("other", name="Other")
    School.objects.create(district=other, sis_code="east", name="East")
    with pytest.raises(GroupRejected) as rejected:
        define_group(schools, **{**VALID, "schools": ["east"]}, actor="test")
    assert rejected.value.field == "schools" and "no school 'east'" in rejected.value.message
    assert nothing_written(schools)


def test_a_duplicate_name_is_refused(schools):
    define_group(schools, **VALID, actor="test")
    with pytest.raises(GroupRejected) as rejected:
        define_group(schools, **{**VALID, "audience": "student"}, actor="test")
    assert rejected.value.field == "name" and "already exists" in rejected.value.message
    assert AccountGroup.objects.get(district=schools).audience == "contact"
    assert AuditEvent.objects.filter(district=schools, action="group.added").count() == 1
    other = make_district("other", name="Other")
    assert define_group(other, **{**VALID, "schools": []}, actor="test").name == "Parents", "per district"


def test_a_school_limited_definer_keeps_to_their_schools(schools):
    with pytest.raises(GroupRejected) as everywhere:
        define_group(schools, **{**VALID, "schools": []}, actor="test", allowed_schools=("north",))
    assert everywhere.value.field == "schools" and "at least one" in everywhere.value.message
    with pytest.raises(GroupRejected) as theirs:
        define_group(schools, **{**VALID, "schools": ["south"]}, actor="test", allowed_schools=("north",))
    assert theirs.value.field == "schools" and "'south'" in theirs.value.message
    assert nothing_written(schools)
    assert define_group(schools, **VALID, actor="test", allowed_schools=("north",)).school_codes == ["north"]


# ---- the command line: the same flags, output and exit codes, through define_group ---------------------------


def test_the_command_defines_a_group_through_the_domain(cli, schools):
    added = cli("group", "add", schools.slug, "Parents", "--audience", "contact", "--school", "north",
                "--grade", "09", "--usernames", "scheme", "--scheme", "{first:1}{last}{counter}",
                "--max-length", "20", "--passwords", "generated", "--must-change", "off", "--min-length", "12",
                "--json")  # fmt: skip
    assert added.code == 0, added.stderr
    assert added.json == {"group": {**VALID, "grades": ["09"]}}
    assert AuditEvent.objects.get(district=schools, action="group.added").actor.startswith("cli:")
    plain = cli("group", "add", schools.slug, "Staff", "--audience", "staff")
    assert plain.code == 0
    assert plain.stdout == "Staff: staff, usernames scheme ({first}.{last}), passwords activation\n"
    listed = cli("group", "list", schools.slug, "--json").json["groups"]
    assert [g["name"] for g in listed] == ["Parents", "Staff"]


def test_the_command_refuses_an_unknown_school(cli, schools):
    refused = cli("group", "add", schools.slug, "Parents", "--audience", "contact", "--school", "atlantis",
                  "--json")  # fmt: skip
    assert refused.code == 1 and "--school: no school 'atlantis'" in refused.stderr
    assert "no school 'atlantis'" in refused.json["error"]
    assert nothing_written(schools)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--max-length", "2"], "--max-length must be between 3 and 150"),
        (["--min-length", "200"], "--min-length must be between 8 and 128"),
        (["--scheme", "{first"], "--scheme: position 1: "),
        (["--audience", "parent"], "invalid choice"),
    ],
)
def test_the_command_words_its_rejections_as_before(cli, schools, flags, message):
    args = ["group", "add", schools.slug, "Parents", "--audience", "contact", *flags, "--json"]
    refused = cli(*args)
    assert refused.code == (2 if "choice" in message else 1) and message in refused.stderr
    assert nothing_written(schools)


def test_the_command_refuses_a_duplicate_as_before(cli, schools):
    assert cli("group", "add", schools.slug, "Parents", "--audience", "contact").code == 0
    again = cli("group", "add", schools.slug, "Parents", "--audience", "student", "--json")
    assert again.code == 1 and again.json == {"error": "a group 'Parents' already exists in this district"}
