"""The console benchmark's data: the district it lists, drawn with polars and written into the database.

`build_population` draws about N people (students in families, their contacts, staff) with one account each,
in the spread of states and revoke reasons below, and `picks` chooses from that data what the scenarios ask
for (the largest school, a common family-name prefix, a SIS code, an e-mail address). Both need no database,
so the tests call them directly. `seed` runs in the `seed` child process (console_bench.py seed …): it sets
Django up, writes the population into district `bench` with COPY and INSERT … SELECT, then vacuums and
analyses the tables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from district import (
    SCHOOL_SIZE,
    STUDENTS_PER_STAFF,
    People,
    build_families,
    build_staff,
    contact_id,
    plan_schools,
    student_id,
)
from namebank import NameBank
from rng import Draws
from usernames_bench import _setup_django, _with_stems
from users_rows import users_frame

# The district the runner adds (`schoolgate district add bench`), the seed fills and `measure` logs into.
DISTRICT = ("bench", "Bench District")
ACCOUNTS_PER_SCHOOL = 625  # 1,600 schools at 1,000,000 accounts
CONTACTS_PER_STUDENT = 2.0  # bench/district.py's default: ≈ 1/3 students, 2/3 contacts, staff the rest

# Account states, drawn independently of kind.
STATE_SHARES = {
    "ready_to_provision": 0.30,
    "invited": 0.20,
    "active": 0.40,
    "ready_to_revoke": 0.05,
    "revoked": 0.05,
}
# Why accounts are (ready to be) revoked. Only contacts can lose their students or be superseded.
CONTACT_REASONS = {
    "left_sis": 0.35,
    "no_students": 0.35,
    "flag_removed": 0.15,
    "not_linked": 0.05,
    "superseded": 0.05,
    "duplicate_username": 0.05,
}
PERSON_REASONS = {"left_sis": 0.80, "flag_removed": 0.15, "duplicate_username": 0.05}
KIND_OF_ROLE = {
    "student": "student",
    "parent": "contact",
    "guardian": "contact",
    "relative": "contact",
    "teacher": "staff",
    "administrator": "staff",
}
HISTORY_DAYS = 730  # accounts were created over the last two years
INVITATION_DAYS = 7
PORTAL_FLAG_SHARE = 0.95  # links whose contact may see the student


# ---- the data: built with polars, no database ------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """The district's rows, keyed by SIS codes (the database assigns the ids)."""

    schools: pl.DataFrame  # School columns
    people: pl.DataFrame  # Person columns, in insertion order
    accounts: pl.DataFrame  # sis_code and Account columns, plus the invitation's expiry for invited accounts
    memberships: pl.DataFrame  # sis_code, school_code, role, is_primary
    links: pl.DataFrame  # student_code, contact_code, relationship, declared_by_contact, portal_flag


def build_population(accounts: int, seed: int, now: datetime) -> Population:
    """About `accounts` people, each with an account: students in families, their contacts, and staff.

    `now` is a naive UTC datetime: the account timestamps lie in the HISTORY_DAYS before it.
    """
    bank = NameBank.load()
    draws = Draws(f"{seed}:console")
    n_students = max(1, round(accounts / (1 + CONTACTS_PER_STUDENT + 1 / STUDENTS_PER_STAFF)))
    # plan_schools sizes schools by SCHOOL_SIZE students; ask for as many schools as ACCOUNTS_PER_SCHOOL gives.
    n_schools = max(2, round(accounts / ACCOUNTS_PER_SCHOOL))
    schools, orgs = plan_schools(n_schools * SCHOOL_SIZE, draws, bank)
    people = build_families(n_students, draws, bank, schools, contacts_per_student=CONTACTS_PER_STUDENT)
    # Staff make up the rest, so the district holds exactly `accounts` accounts.
    n_staff = accounts - n_students - people.contacts.height
    if n_staff < 1:
        raise ValueError(f"{accounts} accounts are too few for a district with staff")
    per_school = people.students.group_by("school").agg(students=pl.len()).sort("school")
    staff = build_staff(n_staff, draws, bank, per_school)
    users = users_frame(people, bank, staff)
    # A district that has lived through years of syncs has its kinds interleaved in id order; inserting
    # students, then contacts, then staff would cluster them and flatter (or hurt) kind filters.
    users = users[draws.permutation(users.height)]
    n = users.height

    kind = pl.col("role").replace_strict(KIND_OF_ROLE)
    users = users.with_columns(
        kind=kind,
        state=pl.lit(pl.Series(list(STATE_SHARES))).gather(draws.categorical(n, list(STATE_SHARES.values()))),
        contact_reason=pl.lit(pl.Series(list(CONTACT_REASONS))).gather(
            draws.categorical(n, list(CONTACT_REASONS.values()))
        ),
        person_reason=pl.lit(pl.Series(list(PERSON_REASONS))).gather(
            draws.categorical(n, list(PERSON_REASONS.values()))
        ),
        age=draws.uniform(n),  # created this share of HISTORY_DAYS ago …
        changed=draws.uniform(n),  # … and changed state this share of that time ago
    )
    revoking = pl.col("state").is_in(["ready_to_revoke", "revoked"])
    users = users.with_columns(
        reason=pl.when(revoking)
        .then(pl.when(pl.col("kind") == "contact").then("contact_reason").otherwise("person_reason"))
        .otherwise(pl.lit(""))
    )

    people_frame = users.select(
        sis_code="sourcedId",
        kind="kind",
        roles="role",
        given_name=pl.col("givenName").fill_null(""),
        family_name=pl.col("familyName").fill_null(""),
        middle_name=pl.col("middleName").fill_null(""),
        preferred_given_name=pl.lit(""),
        email=pl.col("email").fill_null(""),
        phone=pl.col("phone").fill_null(""),
        sms=pl.col("sms").fill_null(""),
        sis_username=pl.col("username").fill_null(""),
        identifier=pl.col("identifier").fill_null(""),
        grades=pl.col("grades").fill_null(""),
        enabled=pl.lit(True),
        # Accounts revoked because their person left the SIS point at a record that is no longer in it.
        in_sis=pl.col("reason") != "left_sis",
        login_allowed=(pl.col("kind") != "contact") & ~revoking,
    )

    return Population(
        schools=orgs.select(
            sis_code="sourcedId",
            name="name",
            org_type="type",
            parent_code=pl.col("parentSourcedId").fill_null(""),
            in_sis=pl.lit(True),
        ),
        people=people_frame,
        accounts=_accounts_frame(users, now),
        memberships=(
            users.select(
                sis_code="sourcedId", role="role", school_code=pl.col("orgSourcedIds").str.split(",")
            )
            .explode("school_code")
            .with_columns(is_primary=pl.int_range(pl.len()).over("sis_code") == 0)
        ),
        links=_links_frame(people, draws),
    )


def _accounts_frame(users: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """Account columns per SIS code: state, reason, usernames with counters, timestamps by state."""
    state = pl.col("state")
    # Usernames as `{first}.{last}` with counters (john.smith, john.smith2, …) in the project's own rendering.
    holders = users.filter(state.is_in(["active", "ready_to_revoke"])).select(
        "sourcedId",
        given_name=pl.col("givenName").fill_null(""),
        family_name=pl.col("familyName").fill_null(""),
    )
    holders = _with_stems(holders).with_columns(
        stem=pl.when(pl.col("stem") == "").then(pl.lit("user")).otherwise("stem")
    )
    holders = holders.with_columns(number=pl.int_range(1, pl.len() + 1).over("stem")).select(
        "sourcedId",
        login=pl.when(pl.col("number") == 1)
        .then("stem")
        .otherwise(pl.col("stem") + pl.col("number").cast(pl.Utf8)),
    )
    users = users.join(holders, on="sourcedId", how="left")

    # Timestamps as offsets before `now`: created `age` of the history ago, state changed since then.
    history_ms = timedelta(days=HISTORY_DAYS).total_seconds() * 1000
    created_ago = pl.col("age") * history_ms
    changed_ago = created_ago * pl.col("changed")

    def ago(milliseconds: pl.Expr) -> pl.Expr:
        return pl.lit(now) - pl.duration(milliseconds=milliseconds.cast(pl.Int64))

    created, changed = ago(created_ago), ago(changed_ago)

    def between(share: float) -> pl.Expr:
        """A moment `share` of the way from creation to the last state change."""
        return ago(created_ago - (created_ago - changed_ago) * share)

    invited_at = (
        pl.when(state == "invited")
        .then(changed)
        .when(state == "active")
        .then(between(0.9))
        .when(state == "ready_to_revoke")
        .then(between(0.3))
    )
    return users.select(
        sis_code="sourcedId",
        state="state",
        reason="reason",
        username="login",
        # Rendered usernames are lower-case ASCII: their NFKC + casefold key is themselves.
        username_key="login",
        # Not a hash anyone can log in with: only its presence matters to the page.
        password_hash=pl.when(state.is_in(["active", "ready_to_revoke"]))
        .then(pl.lit("!bench"))
        .otherwise(pl.lit("")),
        created_at=created,
        state_changed_at=changed,
        invited_at=invited_at,
        activated_at=pl.when(state == "active")
        .then(changed)
        .when(state == "ready_to_revoke")
        .then(between(0.4)),
        revoked_at=pl.when(state == "revoked").then(changed),
        invitation_expires_at=pl.when(state == "invited").then(changed + timedelta(days=INVITATION_DAYS)),
    )


def _links_frame(people: People, draws: Draws) -> pl.DataFrame:
    """Student ↔ contact links from the families, with the contact's role as the relationship."""
    contacts = people.contacts.select("serial", "role", "lists_students")
    links = people.links.join(contacts, left_on="contact", right_on="serial", how="left")
    return links.select(
        student_code=student_id(pl.col("student")),
        contact_code=contact_id(pl.col("contact")),
        relationship="role",
        declared_by_contact="lists_students",
        portal_flag=draws.bernoulli(links.height, PORTAL_FLAG_SHARE),
    )


def picks(population: Population) -> dict:
    """What the scenarios ask for, chosen from the data, with how many accounts each filter matches."""
    people = population.people.join(population.accounts.select("sis_code", "state"), on="sis_code")
    by_school = population.memberships.group_by("school_code").agg(members=pl.col("sis_code").n_unique())
    school_code, members = by_school.sort(["members", "school_code"], descending=[True, False]).row(0)
    families = people.group_by("family_name").agg(people=pl.len())
    family = families.sort(["people", "family_name"], descending=[True, False])["family_name"][0]
    # What an admin types: the first letters, in lower case.
    prefix = family[:4].lower()
    contacts = people.filter(pl.col("kind") == "contact").sort("sis_code")
    with_email = contacts.filter(pl.col("email") != "")
    email = with_email["email"][with_email.height // 3]
    top = families.sort(["people", "family_name"], descending=[True, False]).head(5)
    return {
        "school": school_code,
        "school_members": int(members),
        "family_prefix": prefix,
        "family_prefix_people": int(
            people.filter(pl.col("family_name").str.to_lowercase().str.starts_with(prefix)).height
        ),
        "top_families": [[name, int(count)] for name, count in top.iter_rows()],
        "sis_code": contacts["sis_code"][contacts.height // 2],
        "email": email,
        "email_people": int((people["email"] == email).sum()),
        "accounts": people.height,
        "ready_to_revoke": int((people["state"] == "ready_to_revoke").sum()),
        "contact_active": int(((people["kind"] == "contact") & (people["state"] == "active")).sum()),
    }


# ---- child process: Django is set up only here, with the database the runner chose ----------------------

ACCOUNT_STAGE, MEMBERSHIP_STAGE, LINK_STAGE = (
    "bench_console_accounts",
    "bench_console_members",
    "bench_console_links",
)


def seed(accounts: int, seed_value: int) -> dict:
    """Write the population into district `bench`, set-based, then vacuum and analyse."""
    _setup_django()
    from django.db import connection, transaction

    from schoolgate.accounts.models import Account, Invitation
    from schoolgate.core import sql
    from schoolgate.core.models import District, School
    from schoolgate.people.models import Link, Membership, Person

    district = District.objects.get(slug=DISTRICT[0])
    started = time.perf_counter()
    now = datetime.now(UTC).replace(tzinfo=None)
    population = build_population(accounts, seed_value, now)
    chosen = picks(population)
    drawn = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        _write(cursor, district.pk, population)
    written = time.perf_counter()
    with connection.cursor() as cursor:  # outside any transaction: VACUUM refuses to run in one
        for model in (School, Person, Account, Invitation, Membership, Link):
            table = sql.table(model)
            cursor.execute(f"VACUUM ANALYZE {table}" if sql.is_postgres() else f"ANALYZE {table}")
    analyzed = time.perf_counter()

    def tally(column: pl.Series) -> dict[str, int]:
        return dict(column.value_counts(sort=True).iter_rows())

    account_rows = population.accounts
    return {
        "picks": chosen,
        "counts": {
            "kinds": tally(population.people["kind"]),
            "states": {state: int((account_rows["state"] == state).sum()) for state in STATE_SHARES},
            "reasons": tally(account_rows.filter(pl.col("reason") != "")["reason"]),
            "usernames": int(account_rows["username"].is_not_null().sum()),
            "invitations": int(account_rows["invitation_expires_at"].is_not_null().sum()),
            "schools": int((population.schools["org_type"] == "school").sum()),
            "memberships": population.memberships.height,
            "links": population.links.height,
        },
        "seconds": {
            "draw": round(drawn - started, 2),
            "write": round(written - drawn, 2),
            "analyze": round(analyzed - written, 2),
        },
    }


def _write(cursor, district_id: int, population: Population) -> None:
    """Schools and people with COPY, then accounts, invitations, memberships and links with INSERT … SELECT
    against the rows just written (their ids are the database's)."""
    from schoolgate.accounts.models import Account, Invitation
    from schoolgate.core import sql
    from schoolgate.core.models import School
    from schoolgate.people.models import Link, Membership, Person

    district = pl.lit(district_id, pl.Int64)
    school, person, account = sql.table(School), sql.table(Person), sql.table(Account)
    sql.load_frame(cursor, school, population.schools.with_columns(district_id=district))
    sql.load_frame(cursor, person, population.people.with_columns(district_id=district))

    sql.create_temp_table(
        cursor,
        ACCOUNT_STAGE,
        "sis_code VARCHAR(255) PRIMARY KEY, state VARCHAR(20), reason VARCHAR(20), username VARCHAR(150), "
        "username_key VARCHAR(150), password_hash VARCHAR(255), created_at TIMESTAMP, state_changed_at TIMESTAMP, "
        "invited_at TIMESTAMP, activated_at TIMESTAMP, revoked_at TIMESTAMP, invitation_expires_at TIMESTAMP",
    )
    sql.load_frame(cursor, ACCOUNT_STAGE, population.accounts)
    sql.analyze(cursor, ACCOUNT_STAGE, person)
    cursor.execute(
        f"""INSERT INTO {account} (district_id, person_id, state, reason, username, username_key, password_hash,
                must_change_password, credentials_version, created_at, state_changed_at, invited_at,
                activated_at, revoked_at)
            SELECT p.district_id, p.id, a.state, a.reason, a.username, a.username_key, a.password_hash,
                {sql.sql_false()}, 0, a.created_at, a.state_changed_at, a.invited_at, a.activated_at, a.revoked_at
            FROM {person} p JOIN {ACCOUNT_STAGE} a ON a.sis_code = p.sis_code
            WHERE p.district_id = %s ORDER BY p.id""",
        [district_id],
    )
    sql.analyze(cursor, account)
    cursor.execute(
        f"""INSERT INTO {sql.table(Invitation)} (purpose, district_id, account_id, created_at, expires_at)
            SELECT 'welcome', ac.district_id, ac.id, a.invited_at, a.invitation_expires_at
            FROM {account} ac JOIN {person} p ON p.id = ac.person_id JOIN {ACCOUNT_STAGE} a ON a.sis_code = p.sis_code
            WHERE ac.district_id = %s AND a.invitation_expires_at IS NOT NULL ORDER BY ac.id""",
        [district_id],
    )

    sql.create_temp_table(
        cursor,
        MEMBERSHIP_STAGE,
        "sis_code VARCHAR(255), role VARCHAR(40), school_code VARCHAR(255), is_primary BOOLEAN",
    )
    sql.load_frame(cursor, MEMBERSHIP_STAGE, population.memberships)
    sql.analyze(cursor, MEMBERSHIP_STAGE)
    cursor.execute(
        f"""INSERT INTO {sql.table(Membership)} (district_id, person_id, school_id, role, is_primary)
            SELECT p.district_id, p.id, s.id, m.role, m.is_primary
            FROM {MEMBERSHIP_STAGE} m
            JOIN {person} p ON p.district_id = %s AND p.sis_code = m.sis_code
            JOIN {school} s ON s.district_id = %s AND s.sis_code = m.school_code
            ORDER BY p.id""",
        [district_id, district_id],
    )

    sql.create_temp_table(
        cursor,
        LINK_STAGE,
        "student_code VARCHAR(255), contact_code VARCHAR(255), relationship VARCHAR(40), "
        "declared_by_contact BOOLEAN, portal_flag BOOLEAN",
    )
    sql.load_frame(cursor, LINK_STAGE, population.links)
    sql.analyze(cursor, LINK_STAGE)
    true = sql.sql_true()
    cursor.execute(
        f"""INSERT INTO {sql.table(Link)} (district_id, student_id, contact_id, relationship, declared_by_student,
                declared_by_contact, in_sis, rule_flag, flag_rule, portal_flag, rule_permissions, permissions)
            SELECT s.district_id, s.id, c.id, l.relationship, {true}, l.declared_by_contact, {true},
                l.portal_flag, 'bench', l.portal_flag, 31, CASE WHEN l.portal_flag THEN 31 ELSE 0 END
            FROM {LINK_STAGE} l
            JOIN {person} s ON s.district_id = %s AND s.sis_code = l.student_code
            JOIN {person} c ON c.district_id = %s AND c.sis_code = l.contact_code
            ORDER BY s.id""",
        [district_id, district_id],
    )
    for name in (ACCOUNT_STAGE, MEMBERSHIP_STAGE, LINK_STAGE):
        sql.drop_temp_table(cursor, name)
