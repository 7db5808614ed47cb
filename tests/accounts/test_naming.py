"""Naming schemes: every field and modifier, transliteration of real names, separators, maximum length with
the counter, the counter's numbering, and templates refused with the position and the problem."""

from __future__ import annotations

import pytest

from schoolgate.accounts.naming import EmptyUsername, InvalidScheme, compile_scheme
from schoolgate.accounts.usernames import clean_username, username_key

PERSON = {
    "given_name": "Margaret",
    "preferred_given_name": "Peggy",
    "middle_name": "Anne",
    "family_name": "O'Brien",
    "email": "Peggy.OBrien+School@Example.ORG",
    "sis_code": "C-10042",
    "grades": "09,10",
}


def render(template, person=PERSON, **kwargs):
    return compile_scheme(template).render(person, **kwargs)


@pytest.mark.parametrize(
    ("template", "stem"),
    [
        ("{first}", "peggy"),
        ("{given}", "margaret"),
        ("{middle}", "anne"),
        ("{last}", "obrien"),
        ("{email}", "peggy.obrien+school@example.org"),
        ("{email_local}", "peggy.obrien+school"),
        ("{code}", "c-10042"),
        ("{grade}", "09"),
        ("{first}.{last}", "peggy.obrien"),
        ("{last}{first:1}", "obrienp"),
        ("{first:1}{middle:1}{last}", "paobrien"),
        ("{last:3}_{code}", "obr_c-10042"),
        ("{grade}-{last}", "09-obrien"),
        ("Staff.{given}", "staff.margaret"),
    ],
)
def test_fields_and_literal_text(template, stem):
    assert render(template) == stem


def test_first_is_the_given_name_without_a_preferred_one():
    assert render("{first}", {**PERSON, "preferred_given_name": ""}) == "margaret"
    assert render("{first}", {**PERSON, "preferred_given_name": "  "}) == "margaret"


def test_missing_keys_count_as_empty():
    assert render("{first}.{middle}.{last}", {"given_name": "Ana", "family_name": "Lima"}) == "ana.lima"


@pytest.mark.parametrize(
    ("given", "family", "stem"),
    [
        ("José", "García", "jose.garcia"),
        ("Zoë", "Brontë", "zoe.bronte"),
        ("Jürgen", "Weiß", "jurgen.weiss"),
        ("Łukasz", "Wróbel", "lukasz.wrobel"),
        ("Søren", "Kierkegaard", "soren.kierkegaard"),
        ("Þórunn", "Guðmundsdóttir", "thorunn.gudmundsdottir"),
        ("Thị Minh", "Nguyễn", "thiminh.nguyen"),
        ("Дмитрий", "Иванов", "dmitriy.ivanov"),
        ("小明", "王", "xiaoming.wang"),
        ("민준", "김", "minjun.gim"),
        ("さくら", "さとう", "sakura.satou"),
        ("Σωκράτης", "Παπαδόπουλος", "sokratis.papadopoylos"),
        ("Mary-Jane", "O'Neil", "maryjane.oneil"),
        ("Anne Marie", "van der Berg", "annemarie.vanderberg"),
        ("J.", "St. John", "j.stjohn"),
    ],
)
def test_names_are_transliterated_and_keep_only_letters_and_digits(given, family, stem):
    assert render("{first}.{last}", {"given_name": given, "family_name": family}) == stem


def test_first_n_characters_are_taken_after_transliteration():
    assert render("{first:1}{last}", {"given_name": "Łukasz", "family_name": "Wróbel"}) == "lwrobel"
    assert render("{first:2}{last}", {"given_name": "Дмитрий", "family_name": "Иванов"}) == "dmivanov"
    assert render("{last:1}{first}", {"given_name": "小明", "family_name": "王"}) == "wxiaoming"
    assert render("{first:1}{last}", {"given_name": "'Aisha", "family_name": "Khan"}) == "akhan"


def test_email_keeps_its_punctuation_lower_cased():
    person = {"email": "Zoë.Dupont-Smith@École.fr"}
    assert render("{email}", person) == "zoe.dupont-smith@ecole.fr"
    assert render("{email_local}", person) == "zoe.dupont-smith"
    assert render("{email_local}", {"email": "no-at-sign"}) == "no-at-sign"


def test_grade_is_the_first_listed():
    assert render("{grade}{last}", {"grades": "KG,01", "family_name": "Lee"}) == "kglee"


@pytest.mark.parametrize(
    ("template", "person", "stem"),
    [
        ("{first}.{middle}.{last}", {"given_name": "Ana", "family_name": "Lima"}, "ana.lima"),
        ("{first}-{middle}-{last}", {"given_name": "Ana", "family_name": "Lima"}, "ana-lima"),
        ("{middle}.{last}", {"family_name": "Lima"}, "lima"),
        ("{first}.{middle}", {"given_name": "Ana"}, "ana"),
        ("{first}._{last}", {"given_name": "Ana", "family_name": "Lima"}, "ana.lima"),
        ("{code}.{last}", {"sis_code": "-12-", "family_name": "Lima"}, "12-lima"),
        (".{first}.", {"given_name": "Ana"}, "ana"),
    ],
)
def test_separators_collapse_and_are_stripped_at_the_ends(template, person, stem):
    assert render(template, person) == stem


def test_results_are_valid_usernames_and_their_own_key():
    for template in ("{first}.{last}", "{email}", "{code}_{grade}", "{first:1}{last}{counter}"):
        stem = render(template)
        assert clean_username(stem) == stem
        assert username_key(stem) == stem


def test_counter_numbering():
    plain = compile_scheme("{first:1}{last}")
    stem = plain.render({"given_name": "John", "family_name": "Smith"})
    assert not plain.has_counter
    assert [plain.compose(stem, n) for n in (1, 2, 3, 10)] == ["jsmith", "jsmith2", "jsmith3", "jsmith10"]

    counted = compile_scheme("{first:1}{last}{counter}")
    assert counted.has_counter
    assert [counted.compose(stem, n) for n in (1, 2, 10)] == ["jsmith1", "jsmith2", "jsmith10"]

    padded = compile_scheme("{first:1}{last}{counter:2}")
    assert [padded.compose(stem, n) for n in (1, 9, 10, 123)] == [
        "jsmith01",
        "jsmith09",
        "jsmith10",
        "jsmith123",
    ]

    dotted = compile_scheme("{first}.{last}.{counter}")
    stem = dotted.render({"given_name": "John", "family_name": "Smith"})
    assert stem == "john.smith."
    assert dotted.compose(stem, 2) == "john.smith.2"
    # An empty last name: the separators collapse, the one before the number stays.
    stem = dotted.render({"given_name": "John"})
    assert dotted.compose(stem, 1) == "john.1"

    with pytest.raises(ValueError, match="start at 1"):
        plain.compose("jsmith", 0)


def test_max_length_leaves_room_for_the_counter_and_never_cuts_it():
    person = {"given_name": "Alexandria", "family_name": "Smithsonian-Whitfield"}
    plain = compile_scheme("{first}.{last}")
    stem = plain.render(person, max_length=20)
    assert stem == "alexandria.smithsoni"  # the first holder takes the bare stem: nothing reserved
    assert plain.compose(stem, 1, 20) == "alexandria.smithsoni"
    assert plain.compose(stem, 2, 20) == "alexandria.smithson2"
    assert plain.compose(stem, 10, 20) == "alexandria.smithso10"

    counted = compile_scheme("{first}.{last}{counter:2}")
    stem = counted.render(person, max_length=20)
    assert stem == "alexandria.smithso"  # two digits reserved
    assert counted.compose(stem, 1, 20) == "alexandria.smithso01"
    assert counted.compose(stem, 100, 20) == "alexandria.smiths100"

    # A cut that ends on a separator drops it, here and when a wider number needs more room.
    assert plain.render(person, max_length=11) == "alexandria"
    assert plain.compose("alexandria", 10, 11) == "alexandri10"
    dotted = compile_scheme("{first}.{last}.{counter}")
    stem = dotted.render(person, max_length=13)
    assert stem == "alexandria."
    assert dotted.compose(stem, 1, 13) == "alexandria.1"
    assert dotted.compose(stem, 100, 13) == "alexandri.100"


def test_a_number_too_wide_for_the_maximum_length_gives_none():
    scheme = compile_scheme("{first}{counter}")
    stem = scheme.render({"given_name": "Al"}, max_length=3)
    assert stem == "al"
    assert scheme.compose(stem, 9, 3) == "al9"
    assert scheme.compose(stem, 99, 3) == "a99"
    assert scheme.compose(stem, 999, 3) is None


def test_a_maximum_length_without_room_for_a_name_is_refused():
    with pytest.raises(ValueError, match="no room for a name"):
        render("{first}{counter:3}", max_length=3)


@pytest.mark.parametrize(
    "person",
    [
        {},
        {"given_name": "", "family_name": ""},
        {"given_name": "'", "family_name": "-"},  # nothing survives the character rules
        {"given_name": "  ", "family_name": "''"},
    ],
)
def test_an_empty_result_is_an_error_for_that_person(person):
    with pytest.raises(EmptyUsername) as error:
        render("{first}.{last}", person)
    assert str(error.value) == (
        "the naming scheme {first}.{last} gives this person an empty username ({first} and {last}: nothing usable)"
    )


def test_the_counter_alone_does_not_make_a_username():
    with pytest.raises(EmptyUsername):
        render("{middle}{counter}", {"given_name": "Ana"})


@pytest.mark.parametrize(
    ("template", "position", "problem"),
    [
        ("{nickname}", 1, "unknown field {nickname}; known fields are {first}, {given}, {middle}, {last}, "
         "{email}, {email_local}, {code}, {grade}, {counter}"),
        ("{first}.{First}", 9, "unknown field {First}; known fields are {first}, {given}, {middle}, {last}, "
         "{email}, {email_local}, {code}, {grade}, {counter}"),
        ("{first}.{last", 9, '"{" is never closed'),
        ("{first}.last}", 13, '"}" without a matching "{"'),
        ("{first{last}}", 7, '"{" inside the field opened at position 1'),
        ("x{}", 2, "a field has no name (write e.g. {first})"),
        ("{first:x}", 1, "bad modifier 'x' in {first:x}: expected a number of characters from 1 to 150"),
        ("{last:0}", 1, "bad modifier '0' in {last:0}: expected a number of characters from 1 to 150"),
        ("{last:}", 1, "bad modifier '' in {last:}: expected a number of characters from 1 to 150"),
        ("{last:-1}", 1, "bad modifier '-1' in {last:-1}: expected a number of characters from 1 to 150"),
        ("{last:1:2}", 1, "bad modifier '1:2' in {last:1:2}: expected a number of characters from 1 to 150"),
        ("{last}{counter:10}", 7, "bad modifier '10' in {counter:10}: expected a width in digits from 1 to 9"),
        ("{counter}{last}", 1, "{counter} must come last in the scheme"),
        ("{last}{counter}.x", 7, "{counter} must come last in the scheme"),
        ("{last}{counter}{counter}", 16, "{counter} appears twice"),
        ("{first} {last}", 8, "' ' is not allowed in literal text (use letters, digits, \".\", \"_\" or \"-\")"),
        ("{last}@school", 7, "'@' is not allowed in literal text (use letters, digits, \".\", \"_\" or \"-\")"),
        ("é{last}", 1, "'é' is not allowed in literal text (use letters, digits, \".\", \"_\" or \"-\")"),
    ],
)  # fmt: skip
def test_invalid_schemes_name_the_position_and_the_problem(template, position, problem):
    with pytest.raises(InvalidScheme) as error:
        compile_scheme(template)
    assert (error.value.position, error.value.problem) == (position, problem)
    assert str(error.value) == f"position {position}: {problem}"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("", "the naming scheme is empty"),
        ("staff", "the naming scheme uses no person field (such as {first} or {last})"),
        ("{counter}", "the naming scheme uses no person field (such as {first} or {last})"),
    ],
)
def test_schemes_without_a_person_field_are_refused(template, problem):
    with pytest.raises(InvalidScheme) as error:
        compile_scheme(template)
    assert error.value.position is None
    assert str(error.value) == problem


def test_compiled_scheme_reports_its_fields_and_counter():
    scheme = compile_scheme("{first:1}{middle:1}{last}.{counter:3}")
    assert scheme.fields == {"first", "middle", "last"}
    assert (scheme.has_counter, scheme.counter_width, scheme.counter_separator) == (True, 3, ".")
    assert compile_scheme("{first}.{last}").has_counter is False
    assert compile_scheme("Staff.{last}").render({"family_name": "Lee"}) == "staff.lee"
