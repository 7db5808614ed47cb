"""Formatting generated people as OneRoster 1.1 users.csv rows.

Display names are shown in the family's native script when it is recorded that way; e-mail addresses are
always ASCII (first.last+serial@domain), built from the romanised names, and unique per person.
"""

from __future__ import annotations

import polars as pl

from district import People, contact_id, phone_number, staff_id, student_id
from namebank import NameBank
from oneroster_set import USERS_HEADER

STUDENT_DOMAIN = "students.example.org"
CONTACT_DOMAIN = "example.org"
STAFF_DOMAIN = "staff.example.org"


def users_frame(people: People, bank: NameBank, staff: pl.DataFrame | None = None) -> pl.DataFrame:
    """users.csv rows (1.1 header, all strings): students, then contacts, then staff, each by sourcedId."""
    links = people.links
    school_of = people.students.select(student="serial", school="school")
    student_agents = links.group_by("student", maintain_order=True).agg(
        agents=contact_id(pl.col("contact")).str.join(",")
    )
    students = (
        _with_names(people.students, bank)
        .join(student_agents, left_on="serial", right_on="student", how="left")
        .sort("serial")
        .select(
            sourcedId=student_id(pl.col("serial")),
            enabledUser=pl.lit("true"),
            orgSourcedIds="school",
            role=pl.lit("student"),
            givenName="given_name",
            familyName="family_name",
            middleName="middle_name",
            # A student number as a SIS prints it; unique because the serial is.
            identifier=(pl.col("serial") + 100_000_000).cast(pl.Utf8),
            email=_email(STUDENT_DOMAIN),
            agentSourcedIds="agents",
            grades="grade",
        )
    )

    # A contact belongs to the schools of the children it is linked to.
    contact_schools = (
        links.join(school_of, on="student")
        .group_by("contact")
        .agg(schools=pl.col("school").unique().sort().str.join(","))
    )
    contact_agents = (
        links.sort(["contact", "student"])
        .group_by("contact", maintain_order=True)
        .agg(students=student_id(pl.col("student")).str.join(","))
    )
    phone = pl.when("has_phone").then(phone_number(pl.col("serial")))
    contacts = (
        _with_names(people.contacts, bank)
        .join(contact_schools, left_on="serial", right_on="contact", how="left")
        .join(contact_agents, left_on="serial", right_on="contact", how="left")
        .sort("serial")
        .select(
            sourcedId=contact_id(pl.col("serial")),
            enabledUser=pl.lit("true"),
            orgSourcedIds="schools",
            role="role",
            givenName="given_name",
            familyName="family_name",
            email=_email(CONTACT_DOMAIN),
            sms=pl.when("has_sms").then(phone),
            phone=phone,
            # Some SIS exports write the relationship on the contact's row too.
            agentSourcedIds=pl.when("lists_students").then("students"),
        )
    )
    frames = [students, contacts]
    if staff is not None:
        frames.append(
            _with_names(staff.with_columns(middle=pl.lit(None, pl.Int64)), bank)
            .sort("serial")
            .select(
                sourcedId=staff_id(pl.col("serial")),
                enabledUser=pl.lit("true"),
                orgSourcedIds="school",
                role="role",
                givenName="given_name",
                familyName="family_name",
                identifier=pl.format("E{}", pl.col("serial").cast(pl.Utf8).str.zfill(6)),
                email=_email(STAFF_DOMAIN),
            )
        )
    users = pl.concat(frames, how="diagonal_relaxed")
    # OneRoster 1.1 requires a username; SIS exports commonly use the e-mail address.
    users = users.with_columns(username=pl.col("email"))
    return users.select(
        [pl.col(c) if c in users.columns else pl.lit(None, pl.Utf8).alias(c) for c in USERS_HEADER]
    )


def _with_names(frame: pl.DataFrame, bank: NameBank) -> pl.DataFrame:
    """Add display names (native script for native families) and ASCII slugs for e-mail addresses."""
    fore, sur = bank.forenames, bank.surnames

    def shown(table: pl.DataFrame, index: str) -> pl.Expr:
        roman = pl.lit(table["roman"]).gather(pl.col(index))
        local = pl.lit(table["local"]).gather(pl.col(index))
        return pl.when("native").then(local.fill_null(roman)).otherwise(roman)

    return frame.with_columns(
        given_name=shown(fore, "given"),
        family_name=shown(sur, "surname"),
        middle_name=shown(fore, "middle") if "middle" in frame.columns else pl.lit(None, pl.Utf8),
        given_slug=pl.lit(fore["ascii"]).gather(pl.col("given")),
        family_slug=pl.lit(sur["ascii"]).gather(pl.col("surname")),
    )


def _email(domain: str) -> pl.Expr:
    """first.last+serial@domain: readable, and unique per person whatever the name."""
    return pl.format("{}.{}+{}@" + domain, "given_slug", "family_slug", pl.col("serial"))
