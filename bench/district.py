"""The model of a synthetic school district: schools, families (students and their contacts) and staff.

Everything is built column-wise with polars from bulk random draws (`rng.Draws`), so a district of a million
students takes seconds. The shape, per the benchmark issue and what real SIS exports look like:

- schools of about SCHOOL_SIZE students, each primary (grades KG-06) or secondary (07-12); a family lives in
  one "area" and its children attend that area's primary and secondary school, so siblings are often at
  different schools of the district;
- families of 1-4 siblings (mean ≈ 1.6); two parents (mother and father, mostly role `parent`, some
  `guardian`) or one; a few split families where one child has a step-parent too (three parents for that
  child); relatives (grandparents, emergency contacts) topped up until the district has the requested
  number of contact records per student;
- one staff member per STUDENTS_PER_STAFF students, mostly teachers, attached to one school.

Person serial numbers are a random permutation, so siblings do not get neighbouring ids (they would not in
a real SIS, and neighbouring ids would flatter the database's index locality).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from namebank import NameBank
from rng import Draws

SCHOOL_SIZE = 600
STUDENTS_PER_STAFF = 12
# P(1, 2, 3, 4 siblings): mean 1.61.
SIBLINGS_WEIGHTS = (0.55, 0.32, 0.10, 0.03)
SINGLE_PARENT_SHARE = 0.12
SINGLE_PARENT_MOTHER_SHARE = 0.8
PARENT_AS_GUARDIAN_SHARE = 0.12  # a parent-slot contact whose SIS role is `guardian` rather than `parent`
SPLIT_FAMILY_SHARE = 0.03  # one child of the family also has a step-parent
MIN_RELATIVE_FAMILY_SHARE = 0.05  # relatives are at least this many per family, whatever the target
MOTHER_KEEPS_SURNAME_SHARE = 0.2
RELATIVE_SHARES_SURNAME = 0.5
WRONG_SCHOOL_SHARE = 0.06  # a child enrolled outside the family's area
MIDDLE_NAME_SHARE = 0.25
CONTACT_LISTS_STUDENTS_SHARE = 0.10  # the link is also written on the contact's row (both directions)
CONTACT_PHONE_SHARE = 0.92
CONTACT_SMS_SHARE = 0.6
ADMINISTRATOR_SHARE = 0.08
STAFF_FEMALE_SHARE = 0.75
DEFAULT_CONTACTS_PER_STUDENT = 2.0

GRADES = ["KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"]
PRIMARY_GRADES = 7  # KG..06

# Contact slots, in the order a student's agentSourcedIds lists them.
MOTHER, FATHER, STEP_PARENT, RELATIVE = 0, 1, 2, 3

# Phone numbers are North American in form but always in the 555 exchange, which is recognisably fictional:
# a sample committed to a public repository should not hold numbers that ring real people.
# Area codes: first digit 2-9, middle digit not 9, not an N11 service code.
_AREA_CODES = [a for a in range(201, 990) if (a // 10) % 10 != 9 and a % 100 != 11]
_PHONE_SPACE = len(_AREA_CODES) * 10_000  # area x line: 7,110,000 numbers
# Knuth's multiplicative-hash prime: coprime with _PHONE_SPACE, so serial → number is a bijection (no two
# people share a number while serials stay below _PHONE_SPACE), and it scatters neighbouring serials.
_PHONE_MULTIPLIER = 2_654_435_761
# A changed number is that of serial + offset: distinct from every original number while serials stay below
# the offset (≈ 3.5M contacts, i.e. districts up to ≈ 1.7M students; beyond that a few numbers repeat).
PHONE_CHANGE_OFFSET = _PHONE_SPACE // 2


@dataclass(frozen=True)
class Schools:
    """The district org and its schools; primary schools come first."""

    district_id: str
    primary: list[str]
    secondary: list[str]

    @property
    def all(self) -> list[str]:
        return [*self.primary, *self.secondary]


@dataclass(frozen=True)
class People:
    """Students, contacts and the links between them, before formatting as users.csv rows."""

    students: pl.DataFrame  # serial, family, ordinal, grade, school, female, country, native, name indexes
    contacts: pl.DataFrame  # serial, family, slot, role, female, country, native, name indexes
    links: pl.DataFrame  # student, contact, slot (serials); one row per student-contact relationship


def student_id(serial: pl.Expr) -> pl.Expr:
    return pl.format("stu-{}", serial.cast(pl.Utf8).str.zfill(8))


def contact_id(serial: pl.Expr) -> pl.Expr:
    return pl.format("con-{}", serial.cast(pl.Utf8).str.zfill(8))


def staff_id(serial: pl.Expr) -> pl.Expr:
    return pl.format("stf-{}", serial.cast(pl.Utf8).str.zfill(7))


def phone_number(serial: pl.Expr) -> pl.Expr:
    """A plausible, fictional North American number, unique per serial: "(415) 555-0142"."""
    key = (serial.cast(pl.Int64) * _PHONE_MULTIPLIER) % _PHONE_SPACE
    area = pl.lit(pl.Series(_AREA_CODES, dtype=pl.Int64)).gather(key // 10_000)
    line = (key % 10_000).cast(pl.Utf8).str.zfill(4)
    return pl.format("({}) 555-{}", area, line)


def plan_schools(n_students: int, draws: Draws, bank: NameBank) -> tuple[Schools, pl.DataFrame]:
    """Schools of about SCHOOL_SIZE students (at least one of each level) and the orgs.csv frame."""
    n_schools = max(2, round(n_students / SCHOOL_SIZE))
    n_primary = min(n_schools - 1, max(1, round(n_schools * PRIMARY_GRADES / len(GRADES))))
    schools = Schools(
        district_id="dst-0001",
        primary=[f"sch-{i:04d}" for i in range(1, n_primary + 1)],
        secondary=[f"sch-{i:04d}" for i in range(n_primary + 1, n_schools + 1)],
    )
    # Schools are named after common English-language surnames, in a seeded order; "Smith Elementary School 2"
    # only once the list runs out.
    english = bank.surnames.filter(pl.col("country").is_in(["US", "GB", "CA", "AU", "NZ"]))["roman"]
    english = english.unique(maintain_order=True)
    english = english.gather(draws.permutation(len(english)))
    names = []
    for i, code in enumerate(schools.all):
        kind = "Elementary School" if code in schools.primary else "High School"
        base = f"{english[i % len(english)]} {kind}"
        names.append(base if i < len(english) else f"{base} {i // len(english) + 1}")
    district = {
        "sourcedId": schools.district_id,
        "name": "Synthetic Unified School District",
        "type": "district",
        "identifier": "SUSD",
        "parentSourcedId": None,
    }
    orgs = pl.DataFrame(
        [district]
        + [
            {
                "sourcedId": code,
                "name": name,
                "type": "school",
                "identifier": str(1000 + i),
                "parentSourcedId": schools.district_id,
            }
            for i, (code, name) in enumerate(zip(schools.all, names, strict=True), start=1)
        ],
        schema={c: pl.Utf8 for c in ["sourcedId", "name", "type", "identifier", "parentSourcedId"]},
    )
    orgs = orgs.select(
        "sourcedId",
        status=pl.lit(None, pl.Utf8),
        dateLastModified=pl.lit(None, pl.Utf8),
        name="name",
        type="type",
        identifier="identifier",
        parentSourcedId="parentSourcedId",
    )
    return schools, orgs


def build_families(
    n_students: int,
    draws: Draws,
    bank: NameBank,
    schools: Schools,
    *,
    contacts_per_student: float = DEFAULT_CONTACTS_PER_STUDENT,
    first_student_serial: int = 1,
    first_contact_serial: int = 1,
) -> People:
    """Exactly `n_students` students in families, their contacts and links; serials start where asked."""
    families = _draw_family_sizes(n_students, draws)
    n_families = families.height
    country = bank.draw_country(draws, n_families)
    two_parents = ~draws.bernoulli(n_families, SINGLE_PARENT_SHARE)
    single_is_mother = draws.bernoulli(n_families, SINGLE_PARENT_MOTHER_SHARE)
    families = families.with_columns(
        country=country,
        native=bank.draw_native(draws, country),
        area=draws.uniform(n_families),
        surname=bank.draw_surname(draws, country),
        has_mother=two_parents | single_is_mother,
        has_father=two_parents | ~single_is_mother,
        split=draws.bernoulli(n_families, SPLIT_FAMILY_SHARE),
    )

    students = _students(families, draws, bank, schools, first_student_serial)

    core = families.select(
        pl.col("has_mother").sum() + pl.col("has_father").sum() + pl.col("split").sum()
    ).item()
    # Relatives make up the difference to the requested density; at the default 2.0 contact records per
    # student that is ≈ 1.3 per family (grandparents and emergency contacts). Never fewer relatives than 5% of
    # the number of families, so every district has some.
    wanted = round(contacts_per_student * n_students) - core
    n_relatives = max(wanted, round(MIN_RELATIVE_FAMILY_SHARE * n_families))
    contacts = _contacts(families, n_relatives, draws, bank, first_contact_serial)

    links = (
        students.select("family", "ordinal", student="serial")
        .join(contacts.select("family", "slot", "step_child", contact="serial"), on="family")
        # A step-parent is linked only to the child of that household.
        .filter(pl.col("step_child").is_null() | (pl.col("step_child") == pl.col("ordinal")))
        .select("student", "contact", "slot")
        .sort(["student", "slot", "contact"])
    )
    return People(students=students, contacts=contacts.drop("step_child"), links=links)


def _draw_family_sizes(n_students: int, draws: Draws) -> pl.DataFrame:
    """Family sizes adding up to exactly `n_students` (the last family is trimmed)."""
    mean = sum((i + 1) * w for i, w in enumerate(SIBLINGS_WEIGHTS))
    n_draw = int(n_students / mean * 1.05) + 16
    while True:
        sizes = draws.categorical(n_draw, SIBLINGS_WEIGHTS) + 1
        if sizes.sum() >= n_students:
            break
        n_draw *= 2
    frame = pl.DataFrame({"size": sizes}).with_columns(before=pl.col("size").cum_sum() - pl.col("size"))
    frame = frame.filter(pl.col("before") < n_students).with_columns(
        size=pl.min_horizontal("size", pl.lit(n_students) - pl.col("before"))
    )
    return frame.drop("before").with_row_index("family").with_columns(pl.col("family").cast(pl.Int64))


def _students(
    families: pl.DataFrame, draws: Draws, bank: NameBank, schools: Schools, first: int
) -> pl.DataFrame:
    rows = (
        families.select("family", "country", "native", "area", "surname", "size")
        .with_columns(ordinal=pl.int_ranges(0, pl.col("size")))
        .explode("ordinal")
        .drop("size")
    )
    n = rows.height
    female = draws.bernoulli(n, 0.5)
    rows = rows.with_columns(
        serial=draws.permutation(n) + first,
        grade_index=draws.below(n, len(GRADES)),
        female=female,
        given=bank.draw_forename(draws, rows["country"], female),
        middle=bank.draw_forename(draws, rows["country"], female),
        has_middle=draws.bernoulli(n, MIDDLE_NAME_SHARE),
        elsewhere=draws.bernoulli(n, WRONG_SCHOOL_SHARE),
        anywhere=draws.uniform(n),
    )
    primary = pl.col("grade_index") < PRIMARY_GRADES
    n_level = pl.when(primary).then(len(schools.primary)).otherwise(len(schools.secondary))
    # Children of one family go to their area's school of each level; a few are enrolled elsewhere.
    position = pl.when("elsewhere").then("anywhere").otherwise("area")
    index_in_level = (position * n_level).floor().cast(pl.Int64)
    school_index = index_in_level + pl.when(primary).then(0).otherwise(len(schools.primary))
    return rows.with_columns(
        grade=pl.lit(pl.Series(GRADES)).gather("grade_index"),
        school=pl.lit(pl.Series(schools.all)).gather(school_index),
        middle=pl.when("has_middle").then("middle"),
    ).drop("area", "grade_index", "has_middle", "elsewhere", "anywhere")


def _contacts(
    families: pl.DataFrame, n_relatives: int, draws: Draws, bank: NameBank, first: int
) -> pl.DataFrame:
    base = families.select("family", "country", "native", "surname", "size")
    mothers = base.filter(families["has_mother"]).with_columns(slot=pl.lit(MOTHER), female=pl.lit(True))
    fathers = base.filter(families["has_father"]).with_columns(slot=pl.lit(FATHER), female=pl.lit(False))
    steps = base.filter(families["split"])
    steps = steps.with_columns(
        slot=pl.lit(STEP_PARENT),
        female=draws.bernoulli(steps.height, 0.5),
        step_child=draws.below(steps.height, steps["size"]),
    )
    relative_family = draws.below(n_relatives, families.height)
    relatives = (
        pl.DataFrame({"family": relative_family})
        .join(base, on="family", how="left")
        .with_columns(slot=pl.lit(RELATIVE), female=draws.bernoulli(n_relatives, 0.5))
    )
    contacts = pl.concat([mothers, fathers, steps, relatives], how="diagonal_relaxed").sort(
        ["family", "slot"], maintain_order=True
    )
    n = contacts.height
    contacts = contacts.with_columns(
        serial=draws.permutation(n) + first,
        given=bank.draw_forename(draws, contacts["country"], contacts["female"]),
        own_surname=bank.draw_surname(draws, contacts["country"]),
        mother_keeps=~draws.bernoulli(n, MOTHER_KEEPS_SURNAME_SHARE),
        relative_shares=draws.bernoulli(n, RELATIVE_SHARES_SURNAME),
        parent_is_guardian=draws.bernoulli(n, PARENT_AS_GUARDIAN_SHARE),
        lists_students=draws.bernoulli(n, CONTACT_LISTS_STUDENTS_SHARE),
        has_phone=draws.bernoulli(n, CONTACT_PHONE_SHARE),
        has_sms=draws.bernoulli(n, CONTACT_SMS_SHARE),
    )
    slot = pl.col("slot")
    # Who keeps the family surname: fathers always; mothers mostly; relatives half the time; step-parents not.
    keeps = (
        (slot == FATHER)
        | ((slot == MOTHER) & pl.col("mother_keeps"))
        | ((slot == RELATIVE) & pl.col("relative_shares"))
    )
    role = (
        pl.when(slot == RELATIVE)
        .then(pl.lit("relative"))
        .when((slot == STEP_PARENT) | pl.col("parent_is_guardian"))
        .then(pl.lit("guardian"))
        .otherwise(pl.lit("parent"))
    )
    return contacts.with_columns(
        role=role,
        surname=pl.when(keeps).then("surname").otherwise("own_surname"),
    ).drop("size", "own_surname", "mother_keeps", "relative_shares", "parent_is_guardian")


def build_staff(
    n_staff: int, draws: Draws, bank: NameBank, school_weights: pl.DataFrame, first_serial: int = 1
) -> pl.DataFrame:
    """Teachers and administrators, spread over schools in proportion to `school_weights`.

    `school_weights` has columns school and students.
    """
    country = bank.draw_country(draws, n_staff)
    female = draws.bernoulli(n_staff, STAFF_FEMALE_SHARE)
    school = school_weights["school"].gather(draws.categorical(n_staff, school_weights["students"].to_list()))
    administrator = draws.bernoulli(n_staff, ADMINISTRATOR_SHARE)
    return pl.DataFrame(
        {
            "serial": draws.permutation(n_staff) + first_serial,
            "school": school,
            "role": pl.Series(["administrator" if a else "teacher" for a in administrator]),
            "country": country,
            "native": bank.draw_native(draws, country),
            "female": female,
            "given": bank.draw_forename(draws, country, female),
            "surname": bank.draw_surname(draws, country),
        }
    )
