"""The next day's bulk set: a generated district after a day of ordinary SIS churn.

Starting from a set written by generate.py, with `rate` = r (0.01 for the benchmark):
- r of the students leave; a contact leaves with them when no linked student remains, and a contact who keeps
  another child loses the leaver from its agentSourcedIds and, if no child is left there, that school from
  its orgSourcedIds (a bulk set must stay referentially complete);
- as many students join, in new families built by the same model (their own new contacts);
- r/2 of the remaining contacts change e-mail, phone or both;
- r/20 of the remaining students (at least one) become disabled (enabledUser false);
- staff and orgs are unchanged.
"""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl

from district import PHONE_CHANGE_OFFSET, PRIMARY_GRADES, Schools, build_families, phone_number
from namebank import NameBank
from oneroster_set import CONTACT_ROLES, links_of, read_set, write_set
from rng import Draws
from users_rows import users_frame

CONTACT_CHANGE_SHARE_OF_CHURN = 0.5
DISABLED_SHARE_OF_CHURN = 0.05
CHANGED_EMAIL_DOMAINS = ("mail.example.net", "mail.example.com")

EMAIL, PHONE, BOTH = 0, 1, 2


def churn_set(source: Path, out_dir: Path, rate: float, seed: int) -> dict:
    """Write the churned copy of the set in `source` into `out_dir`; return what changed."""
    started = time.perf_counter()
    orgs, users = read_set(source)
    draws = Draws(f"{seed}:churn")
    is_student, is_contact = pl.col("role") == "student", pl.col("role").is_in(CONTACT_ROLES)
    students = users.filter(is_student)
    contacts = users.filter(is_contact)
    others = users.filter(~is_student & ~is_contact)
    links = links_of(users)
    n_students_before, n_contacts_before = students.height, contacts.height

    # Leavers, and the contacts that have no child left.
    n_leave = round(rate * n_students_before)
    leaving = students["sourcedId"].gather(draws.permutation(n_students_before).head(n_leave))
    kept_links = links.filter(~pl.col("student").is_in(leaving.implode()))
    touched = links.filter(pl.col("student").is_in(leaving.implode()))["contact"].unique()
    orphaned = touched.filter(~touched.is_in(kept_links["contact"].unique().implode()))
    students = students.filter(~pl.col("sourcedId").is_in(leaving.implode()))
    contacts = contacts.filter(~pl.col("sourcedId").is_in(orphaned.implode()))
    contacts = _drop_departed(contacts, students, kept_links, touched, leaving)

    contacts, n_email, n_phone = _change_contact_details(contacts, draws, rate)
    students, n_disabled = _disable_some(students, draws, rate)

    # Joiners, in new families, with serials after every existing one.
    joined_students = joined_contacts = pl.DataFrame(schema=dict.fromkeys(users.columns, pl.Utf8))
    n_families = 0
    if n_leave:
        people = build_families(
            n_leave,
            draws,
            NameBank.load(),
            _schools_of(orgs, users),
            contacts_per_student=n_contacts_before / max(1, n_students_before),
            first_student_serial=_max_serial(users, "stu-") + 1,
            first_contact_serial=_max_serial(users, "con-") + 1,
        )
        n_families = people.students["family"].n_unique()
        joined = users_frame(people, NameBank.load())
        joined_students = joined.filter(is_student)
        joined_contacts = joined.filter(is_contact)

    result = pl.concat([students, joined_students, contacts, joined_contacts, others])
    write_set(out_dir, orgs, result)
    return {
        "out": str(out_dir),
        "source": str(source),
        "seed": seed,
        "churn": rate,
        "students_left": n_leave,
        "contacts_left": orphaned.len(),
        "contacts_lost_a_student": touched.len() - orphaned.len(),
        "families_joined": n_families,
        "students_joined": joined_students.height,
        "contacts_joined": joined_contacts.height,
        "contacts_email_changed": n_email,
        "contacts_phone_changed": n_phone,
        "students_disabled": n_disabled,
        "students": students.height + joined_students.height,
        "contacts": contacts.height + joined_contacts.height,
        "staff": others.height,
        "users_rows": result.height,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _drop_departed(
    contacts: pl.DataFrame,
    students: pl.DataFrame,
    kept_links: pl.DataFrame,
    touched: pl.Series,
    leaving: pl.Series,
) -> pl.DataFrame:
    """Rewrite orgSourcedIds and agentSourcedIds of contacts that lost a child but stay."""
    school_of = students.select(student="sourcedId", school=pl.col("orgSourcedIds").str.split(",")).explode(
        "school"
    )
    new_orgs = (
        kept_links.filter(pl.col("contact").is_in(touched.implode()))
        .join(school_of, on="student")
        .group_by("contact")
        .agg(new_orgs=pl.col("school").unique().sort().str.join(","))
    )
    new_agents = (
        contacts.filter(
            pl.col("sourcedId").is_in(touched.implode()) & pl.col("agentSourcedIds").is_not_null()
        )
        .select("sourcedId", agent=pl.col("agentSourcedIds").str.split(","))
        .explode("agent")
        .filter(~pl.col("agent").is_in(leaving.implode()))
        .group_by("sourcedId", maintain_order=True)
        .agg(new_agents=pl.col("agent").str.join(","))
    )
    fixed = (
        contacts.join(new_orgs, left_on="sourcedId", right_on="contact", how="left", maintain_order="left")
        .join(new_agents, on="sourcedId", how="left", maintain_order="left")
        .with_columns(
            orgSourcedIds=pl.coalesce("new_orgs", "orgSourcedIds"),
            agentSourcedIds=pl.when(pl.col("sourcedId").is_in(touched.implode()))
            .then("new_agents")
            .otherwise("agentSourcedIds"),
        )
    )
    return fixed.select(contacts.columns)


def _change_contact_details(
    contacts: pl.DataFrame, draws: Draws, rate: float
) -> tuple[pl.DataFrame, int, int]:
    """New e-mail, phone or both for r/2 of the contacts; username and sms follow when they were the same."""
    n_change = round(rate * CONTACT_CHANGE_SHARE_OF_CHURN * contacts.height)
    changes = pl.DataFrame(
        {
            "row": draws.permutation(contacts.height).head(n_change).cast(pl.UInt32),
            "kind": draws.below(n_change, 3),
        }
    )
    frame = contacts.with_row_index("row").join(changes, on="row", how="left", maintain_order="left")
    serial = pl.col("sourcedId").str.extract(r"(\d+)$").cast(pl.Int64)
    first_try = phone_number(serial + PHONE_CHANGE_OFFSET)
    # A contact whose number an earlier churn step already changed gets its original back: still a change,
    # and still nobody else's number (serial + 2 x offset wraps round to serial).
    new_phone = pl.when(first_try == pl.col("phone")).then(phone_number(serial + 2 * PHONE_CHANGE_OFFSET))
    new_phone = new_phone.otherwise(first_try)
    domain_a, domain_b = CHANGED_EMAIL_DOMAINS
    local = pl.col("email").str.extract(r"^(.*)@")
    new_domain = (
        pl.when(pl.col("email").str.ends_with("@" + domain_a))
        .then(pl.lit(domain_b))
        .otherwise(pl.lit(domain_a))
    )
    new_email = pl.format("{}@{}", local, new_domain)
    email_changes = pl.col("kind").is_in([EMAIL, BOTH]) & pl.col("email").is_not_null()
    phone_changes = pl.col("kind").is_in([PHONE, BOTH])
    frame = frame.with_columns(
        email=pl.when(email_changes).then(new_email).otherwise("email"),
        username=pl.when(email_changes & (pl.col("username") == pl.col("email")))
        .then(new_email)
        .otherwise("username"),
        phone=pl.when(phone_changes).then(new_phone).otherwise("phone"),
        sms=pl.when(phone_changes & (pl.col("sms") == pl.col("phone"))).then(new_phone).otherwise("sms"),
    )
    n_email = int(frame.select(email_changes.sum()).item())
    n_phone = int(frame.select(phone_changes.sum()).item())
    return frame.select(contacts.columns), n_email, n_phone


def _disable_some(students: pl.DataFrame, draws: Draws, rate: float) -> tuple[pl.DataFrame, int]:
    """enabledUser false for r/20 of the enabled students (at least one when r > 0)."""
    enabled_rows = students.with_row_index("row").filter(pl.col("enabledUser") == "true")["row"]
    n_disable = min(enabled_rows.len(), max(1, round(rate * DISABLED_SHARE_OF_CHURN * students.height)))
    if rate == 0:
        n_disable = 0
    chosen = enabled_rows.gather(draws.permutation(enabled_rows.len()).head(n_disable))
    frame = students.with_row_index("row").with_columns(
        enabledUser=pl.when(pl.col("row").is_in(chosen.implode()))
        .then(pl.lit("false"))
        .otherwise("enabledUser")
    )
    return frame.drop("row"), n_disable


def _schools_of(orgs: pl.DataFrame, users: pl.DataFrame) -> Schools:
    """Primary and secondary schools of an existing set, judged by the grades of their students."""
    grade_number = (
        pl.when(pl.col("grades") == "KG").then(0).otherwise(pl.col("grades").cast(pl.Int64, strict=False))
    )
    highest = (
        users.filter(pl.col("role") == "student")
        .select(school=pl.col("orgSourcedIds").str.split(","), grade=grade_number)
        .explode("school")
        .group_by("school")
        .agg(pl.col("grade").max())
    )
    schools = orgs.filter(pl.col("type") == "school").join(
        highest, left_on="sourcedId", right_on="school", how="left", maintain_order="left"
    )
    # A school with no student yet is judged by its name, as generate.py names them.
    primary_flag = pl.coalesce(pl.col("grade") < PRIMARY_GRADES, pl.col("name").str.contains("Elementary"))
    primary = schools.filter(primary_flag)["sourcedId"].to_list()
    secondary = schools.filter(~primary_flag)["sourcedId"].to_list()
    every = schools["sourcedId"].to_list()
    district = orgs.filter(pl.col("type") == "district")["sourcedId"]
    return Schools(
        district_id=district[0] if district.len() else "",
        primary=primary or every,
        secondary=secondary or every,
    )


def _max_serial(users: pl.DataFrame, prefix: str) -> int:
    serials = users.filter(pl.col("sourcedId").str.starts_with(prefix))["sourcedId"].str.slice(len(prefix))
    return int(serials.cast(pl.Int64).max() or 0)
