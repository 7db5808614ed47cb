"""Mirror the staged SIS rows onto schools, people, links and memberships — set-based, writing only changes.

Each entity goes through the same three statements: INSERT the rows that are new, UPDATE the rows whose values
differ (null-safe comparison, so an unchanged row is never rewritten), and mark as gone (`in_sis = false`) the
rows a bulk file no longer lists or a delta file marks `tobedeleted`. Nothing is deleted, except memberships,
which carry no history.

References are checked here, against the district as it stands after the people are upserted, because a
delta file may name people the district already holds. Any broken reference rejects the whole set (the caller
rolls the transaction back); links that join two students or two non-students are ignored with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schoolgate.core import sql
from schoolgate.core.models import District, School
from schoolgate.people.eligibility import link_decision, person_decision
from schoolgate.people.models import Link, Membership, Person
from schoolgate.sync.readers.base import Mode, Problem

# (model column, value for a new row, value for an existing row when it differs). `o` is the staging row and
# `{t}` the live table; `{true}` is the engine's spelling of true.
ORG_FIELDS = [
    ("name", "COALESCE(o.name, '')", None),
    ("org_type", "COALESCE(o.org_type, '')", None),
    ("parent_code", "COALESCE(o.parent_code, '')", None),
]
PERSON_FIELDS = [
    ("kind", "o.kind", "COALESCE(o.kind, {t}.kind)"),  # a delta without roles keeps the kind it had
    ("roles", "COALESCE(o.roles, '')", "COALESCE(o.roles, {t}.roles)"),
    ("enabled", "COALESCE(o.enabled, {true})", None),
    ("given_name", "COALESCE(o.given_name, '')", None),
    ("family_name", "COALESCE(o.family_name, '')", None),
    ("middle_name", "COALESCE(o.middle_name, '')", None),
    ("preferred_given_name", "COALESCE(o.preferred_given_name, '')", None),
    ("sis_username", "COALESCE(o.username, '')", None),
    ("identifier", "COALESCE(o.identifier, '')", None),
    ("email", "COALESCE(o.email, '')", None),
    ("phone", "COALESCE(o.phone, '')", None),
    ("sms", "COALESCE(o.sms, '')", None),
    ("grades", "COALESCE(o.grades, '')", None),
    ("sis_digest", "o.digest", None),
]

# The people this run staged (and, later, whose memberships changed): rules and reconciliation look only
# at them and at the contacts linked to them.
SCOPE_TABLE = "sg_scope"
# The people whose rows this set carries: their declared relations are replaced by what the set says.
DECLARERS_TABLE = "sg_declarers"

# Refresh planner statistics of a live table when a run adds more rows than this (see sql.analyze).
ANALYZE_AFTER = 5_000

# The relationship a link gets when the SIS states none: read from the contact's own roles.
INFERRED_RELATIONSHIPS = ["parent", "guardian", "relative"]


@dataclass
class MirrorResult:
    # The district held nobody before this run (a first import): nothing to compare, every decision was
    # made as rows were inserted.
    fresh: bool = False
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


class _Mirror:
    def __init__(self, cursor: Any, district: District, max_problems: int) -> None:
        self.cursor = cursor
        self.district = district
        self.max_problems = max_problems
        self.result = MirrorResult()
        self.true, self.false = sql.sql_true(), sql.sql_false()

    # -- helpers ---------------------------------------------------------------------------------------

    def holds_rows(self, table: str) -> bool:
        """Does the district hold any row of this table yet? (A first import has nothing to compare.)"""
        return (
            sql.scalar(
                self.cursor, f"SELECT 1 FROM {table} WHERE district_id = %s LIMIT 1", [self.district.pk]
            )
            == 1
        )

    def execute(self, statement: str, params: list[Any] | tuple = ()) -> int:
        self.cursor.execute(statement, params)
        return self.cursor.rowcount

    def problems(self, statement: str, params: list[Any], message: str, *, warning: bool = False) -> int:
        """Add one problem per row of `statement` (file, line, col, value); returns the total found."""
        target = self.result.warnings if warning else self.result.errors
        self.cursor.execute(f"SELECT COUNT(*) FROM ({statement}) q", params)
        total = self.cursor.fetchone()[0]
        if not total:
            return 0
        self.cursor.execute(f"{statement} ORDER BY 1, 2 LIMIT {self.max_problems}", params)
        for file, line, column, value in self.cursor.fetchall():
            target.append(Problem(file, line, column, message.format(value=value)))
        if total > self.max_problems:
            target.append(Problem("", None, None, f"… and {total - self.max_problems} more like the above"))
        return total

    def upsert(
        self,
        model: type,
        staging: str,
        fields: list[tuple[str, str, str | None]],
        mode: Mode,
        computed: list[tuple[str, str]] = (),
        computed_params: list[Any] = (),
    ) -> dict:
        """INSERT new, UPDATE changed, retire missing rows of a mirrored table; returns the counts.

        `computed` columns of a new row are SQL over the new row as `p` (e.g. the eligibility decision), so
        a new row is written once rather than inserted and then updated.
        """
        table = sql.table(model)
        d = self.district.pk
        columns = ", ".join(col for col, _, _ in fields)
        inserts = ", ".join(f"{new.format(true=self.true, t=table)} AS {col}" for col, new, _ in fields)
        extra_columns = "".join(f", {col}" for col, _ in computed)
        extra_values = "".join(f", {expr}" for _, expr in computed)
        counts = {"added": 0, "updated": 0, "removed": 0}
        if self.holds_rows(table):
            counts["updated"], counts["removed"] = self.update_and_retire(table, staging, fields, mode)
        counts["added"] = self.execute(
            f"""INSERT INTO {table} (district_id, sis_code, {columns}, in_sis{extra_columns})
                SELECT p.district_id, p.sis_code, {columns}, p.in_sis{extra_values} FROM (
                    SELECT %s AS district_id, o.code AS sis_code, {inserts}, {self.true} AS in_sis
                    FROM {staging} o
                    WHERE o.status = 'active' AND NOT EXISTS
                        (SELECT 1 FROM {table} x WHERE x.district_id = %s AND x.sis_code = o.code)
                ) p""",
            [*computed_params, d, d],
        )
        return counts

    def update_and_retire(
        self, table: str, staging: str, fields: list[tuple[str, str, str | None]], mode: Mode
    ) -> tuple[int, int]:
        """UPDATE the rows whose values differ, and retire the rows the set no longer carries."""
        d = self.district.pk
        assignments, changed = [], []
        for col, new, existing in fields:
            value = (existing or new).format(true=self.true, t=table)
            assignments.append(f"{col} = {value}")
            changed.append(sql.differs(f"{table}.{col}", value))
        updated = self.execute(
            f"""UPDATE {table} SET {", ".join(assignments)}, in_sis = {self.true}
                FROM {staging} o
                WHERE {table}.district_id = %s AND {table}.sis_code = o.code AND o.status = 'active'
                  AND ({" OR ".join(changed)} OR NOT {table}.in_sis)""",
            [d],
        )
        removed = 0
        if mode == Mode.BULK:
            removed = self.execute(
                f"""UPDATE {table} SET in_sis = {self.false}
                    WHERE district_id = %s AND in_sis
                      AND NOT EXISTS (SELECT 1 FROM {staging} o
                                      WHERE o.code = {table}.sis_code AND o.status = 'active')""",
                [d],
            )
        elif mode == Mode.DELTA:
            removed = self.execute(
                f"""UPDATE {table} SET in_sis = {self.false}
                    WHERE district_id = %s AND in_sis
                      AND sis_code IN (SELECT o.code FROM {staging} o WHERE o.status = 'tobedeleted')""",
                [d],
            )
        return updated, removed

    # -- entities --------------------------------------------------------------------------------------

    def orgs(self, mode: Mode) -> None:
        if mode == Mode.ABSENT:
            return
        self.result.counts["schools"] = self.upsert(School, "sg_org", ORG_FIELDS, mode)
        if self.result.counts["schools"]["added"] > ANALYZE_AFTER:
            sql.analyze(self.cursor, sql.table(School))
        school = sql.table(School)
        self.problems(
            f"""SELECT o.file, o.line, 'parentSourcedId', o.parent_code FROM sg_org o
                WHERE o.parent_code IS NOT NULL AND NOT EXISTS
                    (SELECT 1 FROM {school} s WHERE s.district_id = %s AND s.sis_code = o.parent_code)""",
            [self.district.pk],
            "parent org {value!r} is not in this set or the district; the org is kept without its parent",
            warning=True,
        )

    def people(self, mode: Mode) -> None:
        if mode == Mode.ABSENT:
            return
        person = sql.table(Person)
        self.problems(
            f"""SELECT o.file, o.line, 'role', o.code FROM sg_person o
                WHERE o.kind IS NULL AND o.status = 'active' AND NOT EXISTS
                    (SELECT 1 FROM {person} p WHERE p.district_id = %s AND p.sis_code = o.code)""",
            [self.district.pk],
            "new user {value!r} has no role: the set must give one (roles.csv in OneRoster 1.2)",
        )
        if self.result.errors:
            return
        if mode == Mode.BULK:  # people the set no longer carries are retired: they are in scope too
            self.execute(
                f"""INSERT INTO {SCOPE_TABLE} SELECT p.id FROM {person} p WHERE p.district_id = %s AND p.in_sis
                    AND NOT EXISTS (SELECT 1 FROM sg_person o WHERE o.code = p.sis_code AND o.status = 'active')""",
                [self.district.pk],
            )
        decision = person_decision(self.district)
        self.result.counts["people"] = self.upsert(
            Person,
            "sg_person",
            PERSON_FIELDS,
            mode,
            computed=[("login_rule", decision.rule), ("login_allowed", decision.flag)],
            computed_params=[*decision.rule_params, *decision.flag_params],
        )
        if self.result.counts["people"]["added"] > ANALYZE_AFTER:
            sql.analyze(self.cursor, person)
        if self.result.fresh:
            # A first import has no earlier links to re-examine, and rules and reconciliation then look at the
            # whole district (engine: no scope): nothing reads who is in scope. Listing all 3.1 M people
            # twice cost a million-student first import 13 s.
            return
        # Everyone this set carries a row for, including those it retires: their links and eligibility may
        # have changed. In a bulk set that is everyone; the fingerprint pre-pass narrows it to who changed.
        self.execute(
            f"""INSERT INTO {SCOPE_TABLE} SELECT p.id FROM sg_person o
                JOIN {person} p ON p.district_id = %s AND p.sis_code = o.code
                WHERE NOT EXISTS (SELECT 1 FROM {SCOPE_TABLE} x WHERE x.person_id = p.id)""",
            [self.district.pk],
        )
        # Records merged into others are in scope with the record that absorbed them, which declares for both.
        self.execute(
            f"""INSERT INTO {SCOPE_TABLE} SELECT DISTINCT p.merged_into_id FROM sg_person o
                JOIN {person} p ON p.district_id = %s AND p.sis_code = o.code
                WHERE p.merged_into_id IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM {SCOPE_TABLE} x WHERE x.person_id = p.merged_into_id)""",
            [self.district.pk],
        )
        self.execute(
            f"""INSERT INTO {DECLARERS_TABLE} SELECT DISTINCT COALESCE(p.merged_into_id, p.id) FROM sg_person o
                JOIN {person} p ON p.district_id = %s AND p.sis_code = o.code""",
            [self.district.pk],
        )
        sql.analyze(self.cursor, SCOPE_TABLE, DECLARERS_TABLE)

    def check_references(self, relations: Mode, memberships: Mode) -> None:
        """Every person and org a relation or membership names must be in the district after this set."""
        person, school = sql.table(Person), sql.table(School)
        d = self.district.pk
        if relations != Mode.ABSENT:
            self.problems(
                f"""SELECT r.file, r.line, r.col, r.other_code FROM sg_rel r
                    JOIN sg_person sp ON sp.code = r.declarer_code AND sp.status = 'active'
                    LEFT JOIN {person} o ON o.district_id = %s AND o.sis_code = r.other_code
                    WHERE o.id IS NULL OR NOT o.in_sis""",
                [d],
                "names {value!r}, which is not an active user in this set or the district",
            )
        if memberships != Mode.ABSENT:
            self.problems(
                f"""SELECT m.file, m.line, m.col, m.org_code FROM sg_mem m
                    LEFT JOIN {school} s ON s.district_id = %s AND s.sis_code = m.org_code
                    WHERE m.status = 'active' AND (s.id IS NULL OR NOT s.in_sis)""",
                [d],
                "names org {value!r}, which is not an active org in this set or the district",
            )
            self.problems(
                f"""SELECT m.file, m.line, 'userSourcedId', m.person_code FROM sg_mem m
                    LEFT JOIN {person} p ON p.district_id = %s AND p.sis_code = m.person_code
                    WHERE m.status = 'active' AND (p.id IS NULL OR NOT p.in_sis)""",
                [d],
                "names user {value!r}, which is not an active user in this set or the district",
            )

    def links(self, mode: Mode) -> None:
        if mode == Mode.ABSENT:
            return
        person, link = sql.table(Person), sql.table(Link)
        d = self.district.pk
        self.problems(
            f"""SELECT r.file, r.line, r.col, r.other_code FROM sg_rel r
                JOIN sg_person sp ON sp.code = r.declarer_code AND sp.status = 'active'
                JOIN {person} a ON a.district_id = %s AND a.sis_code = r.declarer_code
                JOIN {person} b ON b.district_id = %s AND b.sis_code = r.other_code
                WHERE (a.kind = 'student') = (b.kind = 'student')""",
            [d, d],
            "link to {value!r} ignored: a link joins one student and one contact",
            warning=True,
        )
        # A merged record's SIS code is an alias: its relations belong to the record it was merged into.
        a_id, b_id = "COALESCE(a.merged_into_id, a.id)", "COALESCE(b.merged_into_id, b.id)"
        sql.create_temp_table(
            self.cursor,
            "sg_pair",
            "student_id BIGINT, contact_id BIGINT, relationship VARCHAR(40), by_student INT, by_contact INT",
        )
        self.execute(
            f"""INSERT INTO sg_pair
                SELECT student_id, contact_id, MAX(relationship), MAX(by_student), MAX(by_contact) FROM (
                    SELECT CASE WHEN a.kind = 'student' THEN {a_id} ELSE {b_id} END AS student_id,
                           CASE WHEN a.kind = 'student' THEN {b_id} ELSE {a_id} END AS contact_id,
                           r.relationship AS relationship,
                           CASE WHEN a.kind = 'student' THEN 1 ELSE 0 END AS by_student,
                           CASE WHEN a.kind = 'student' THEN 0 ELSE 1 END AS by_contact
                    FROM sg_rel r
                    JOIN sg_person sp ON sp.code = r.declarer_code AND sp.status = 'active'
                    JOIN {person} a ON a.district_id = %s AND a.sis_code = r.declarer_code
                    JOIN {person} b ON b.district_id = %s AND b.sis_code = r.other_code
                    WHERE (a.kind = 'student') <> (b.kind = 'student')
                ) x GROUP BY student_id, contact_id""",
            [d, d],
        )
        self.execute("CREATE INDEX sg_pair_idx ON sg_pair (student_id, contact_id)")
        sql.analyze(self.cursor, "sg_pair")
        inferred = " ".join(
            f"WHEN (',' || c.roles || ',') LIKE %s THEN '{name}'" for name in INFERRED_RELATIONSHIPS
        )
        inferred_params = [f"%,{name},%" for name in INFERRED_RELATIONSHIPS]
        inferred_case = f"CASE {inferred} ELSE 'other' END"
        counts = {"added": 0, "updated": 0, "removed": 0}
        had_links = self.holds_rows(link)
        decision = link_decision(self.district)
        counts["added"] = self.execute(
            f"""INSERT INTO {link} (district_id, student_id, contact_id, relationship, sis_relationship, priority,
                    lives_with, custody, declared_by_student, declared_by_contact, in_sis, portal_flag, rule_flag,
                    flag_rule, rule_permissions, permissions)
                SELECT l.district_id, l.student_id, l.contact_id, l.relationship, l.sis_relationship, l.priority,
                       l.lives_with,
                       l.custody, l.declared_by_student, l.declared_by_contact, l.in_sis,
                       {decision.flag}, {decision.flag}, {decision.rule}, {decision.sections}, {decision.sections}
                FROM (
                    SELECT %s AS district_id, pr.student_id AS student_id, pr.contact_id AS contact_id,
                           COALESCE(pr.relationship, {inferred_case}) AS relationship,
                           COALESCE(pr.relationship, '') AS sis_relationship,
                           CAST(NULL AS INTEGER) AS priority, CAST(NULL AS BOOLEAN) AS lives_with,
                           CAST(NULL AS BOOLEAN) AS custody, pr.by_student = 1 AS declared_by_student,
                           pr.by_contact = 1 AS declared_by_contact, {self.true} AS in_sis
                    FROM sg_pair pr JOIN {person} c ON c.id = pr.contact_id
                    WHERE NOT EXISTS (SELECT 1 FROM {link} x WHERE x.district_id = %s
                                      AND x.student_id = pr.student_id AND x.contact_id = pr.contact_id)
                ) l
                JOIN {person} s ON s.id = l.student_id
                JOIN {person} c ON c.id = l.contact_id""",
            [
                *decision.flag_params,
                *decision.flag_params,
                *decision.rule_params,
                *decision.sections_params,
                *decision.sections_params,
                d,
                *inferred_params,
                d,
            ],
        )
        # Before anything reads the links again (here, rules, reconciliation): a first import that skipped this
        # left the planner guessing a few thousand links and looping over 3 million in the plan (20 s at 1M).
        if counts["added"] > ANALYZE_AFTER:
            sql.analyze(self.cursor, link)
        if not had_links:  # every link was just inserted as declared
            self.result.counts["links"] = counts
            sql.drop_temp_table(self.cursor, "sg_pair")
            return
        # Which ends' declarations this set replaces: all of them in bulk; in a delta, only those of the
        # people whose rows it carries (a delta row with an empty agent list withdraws that person's links).
        if mode == Mode.BULK:
            scope_join, student_scope, contact_scope, scope_where = "", self.true, self.true, ""
        else:
            # A person the delta retires declares nothing any more, so they are in scope too.
            # Links of everyone in scope are re-examined (a contact whose roles changed gets its relationships
            # re-inferred); only declarers' declarations are replaced.
            scope_join = f"""LEFT JOIN {DECLARERS_TABLE} ss ON ss.person_id = l.student_id
                LEFT JOIN {DECLARERS_TABLE} cs ON cs.person_id = l.contact_id"""
            student_scope, contact_scope = "ss.person_id IS NOT NULL", "cs.person_id IS NOT NULL"
            scope_join += f"""
                JOIN ({sql.links_touching(f"SELECT person_id FROM {SCOPE_TABLE}")}) touched ON touched.id = l.id"""
            scope_where = ""
        # What the SIS now states about the relationship: this set's relation row when it carries one for the
        # link, else what was stated before. Without a statement the relationship follows the contact's roles,
        # so a contact whose role changed gets its links re-inferred even if the student's row did not change.
        stated = (
            "CASE WHEN pr.student_id IS NULL THEN l.sis_relationship ELSE COALESCE(pr.relationship, '') END"
        )
        self.execute("DROP TABLE IF EXISTS sg_linkchg")
        self.execute(
            f"""CREATE TEMPORARY TABLE sg_linkchg AS
                SELECT n.id AS id, n.ds AS ds, n.dc AS dc, n.rel AS rel, n.srel AS srel, n.was_in AS was_in
                FROM (
                    SELECT l.id AS id, l.in_sis AS was_in,
                        l.declared_by_student AS old_ds, l.declared_by_contact AS old_dc,
                        l.relationship AS old_rel, l.sis_relationship AS old_srel,
                        CASE WHEN {student_scope} THEN COALESCE(pr.by_student, 0) = 1
                             ELSE l.declared_by_student END AS ds,
                        CASE WHEN {contact_scope} THEN COALESCE(pr.by_contact, 0) = 1
                             ELSE l.declared_by_contact END AS dc,
                        {stated} AS srel,
                        COALESCE(NULLIF({stated}, ''), {inferred_case}) AS rel
                    FROM {link} l
                    JOIN {person} c ON c.id = l.contact_id
                    {scope_join}
                    LEFT JOIN sg_pair pr ON pr.student_id = l.student_id AND pr.contact_id = l.contact_id
                    WHERE l.district_id = %s {scope_where}
                ) n
                WHERE {sql.differs("n.ds", "n.old_ds")} OR {sql.differs("n.dc", "n.old_dc")}
                   OR {sql.differs("n.rel", "n.old_rel")} OR {sql.differs("n.srel", "n.old_srel")}
                   OR {sql.differs("(n.ds OR n.dc)", "n.was_in")}""",
            [*inferred_params, *([d, d] if mode != Mode.BULK else []), d],
        )
        counts["removed"] = sql.scalar(
            self.cursor, "SELECT COUNT(*) FROM sg_linkchg WHERE was_in AND NOT (ds OR dc)"
        )
        counts["updated"] = (
            self.execute(
                f"""UPDATE {link} SET declared_by_student = c.ds, declared_by_contact = c.dc, relationship = c.rel,
                    sis_relationship = c.srel, in_sis = (c.ds OR c.dc)
                FROM sg_linkchg c WHERE {link}.id = c.id"""
            )
            - counts["removed"]
        )
        self.result.counts["links"] = counts
        for name in ("sg_linkchg", "sg_pair"):
            sql.drop_temp_table(self.cursor, name)

    def memberships(self, mode: Mode, replace_owners: bool) -> None:
        if mode == Mode.ABSENT:
            return
        person, school, membership = sql.table(Person), sql.table(School), sql.table(Membership)
        d = self.district.pk
        sql.create_temp_table(
            self.cursor, "sg_mpair", "person_id BIGINT, school_id BIGINT, role VARCHAR(40), is_primary INT"
        )
        self.execute(
            f"""INSERT INTO sg_mpair
                SELECT p.id, s.id, m.role, MAX(CASE WHEN m.is_primary THEN 1 ELSE 0 END)
                FROM sg_mem m
                JOIN {person} p ON p.district_id = %s AND p.sis_code = m.person_code
                JOIN {school} s ON s.district_id = %s AND s.sis_code = m.org_code
                WHERE m.status = 'active'
                GROUP BY p.id, s.id, m.role""",
            [d, d],
        )
        self.execute("CREATE INDEX sg_mpair_idx ON sg_mpair (person_id, school_id)")
        sql.analyze(self.cursor, "sg_mpair")
        counts = {"added": 0, "updated": 0, "removed": 0}
        if self.holds_rows(membership):
            counts["removed"], counts["updated"] = self.replace_memberships(mode, replace_owners)
        counts["added"] = self.execute(
            f"""INSERT INTO {membership} (district_id, person_id, school_id, role, is_primary)
                SELECT %s, mp.person_id, mp.school_id, mp.role, mp.is_primary = 1 FROM sg_mpair mp
                WHERE NOT EXISTS (SELECT 1 FROM {membership} x WHERE x.person_id = mp.person_id
                                  AND x.school_id = mp.school_id AND x.role = mp.role)""",
            [d],
        )
        self.result.counts["memberships"] = counts
        if mode == Mode.DELTA and not replace_owners:
            self.roles_from_memberships()
        if counts["added"] > ANALYZE_AFTER:
            sql.analyze(self.cursor, membership)
        sql.drop_temp_table(self.cursor, "sg_mpair")

    def replace_memberships(self, mode: Mode, replace_owners: bool) -> tuple[int, int]:
        """Remove the memberships the set no longer carries and correct `is_primary`; returns (removed, updated)."""
        person, school, membership = sql.table(Person), sql.table(School), sql.table(Membership)
        d = self.district.pk
        missing = f"""NOT EXISTS (SELECT 1 FROM sg_mpair mp WHERE mp.person_id = {membership}.person_id
                      AND mp.school_id = {membership}.school_id AND mp.role = {membership}.role)"""
        if mode == Mode.BULK:
            removed = self.execute(f"DELETE FROM {membership} WHERE district_id = %s AND {missing}", [d])
        elif replace_owners:
            removed = self.execute(
                f"""DELETE FROM {membership} WHERE district_id = %s AND {missing} AND person_id IN (
                        SELECT p.id FROM sg_person o JOIN {person} p ON p.district_id = %s AND p.sis_code = o.code)""",
                [d, d],
            )
        else:
            removed = self.execute(
                f"""DELETE FROM {membership} WHERE district_id = %s AND id IN (
                        SELECT x.id FROM sg_mem m
                        JOIN {person} p ON p.district_id = %s AND p.sis_code = m.person_code
                        JOIN {school} s ON s.district_id = %s AND s.sis_code = m.org_code
                        JOIN {membership} x ON x.person_id = p.id AND x.school_id = s.id AND x.role = m.role
                        WHERE m.status = 'tobedeleted')""",
                [d, d, d],
            )
        updated = self.execute(
            f"""UPDATE {membership} SET is_primary = (mp.is_primary = 1) FROM sg_mpair mp
                WHERE {membership}.person_id = mp.person_id AND {membership}.school_id = mp.school_id
                  AND {membership}.role = mp.role AND {sql.differs(f"{membership}.is_primary", "(mp.is_primary = 1)")}"""
        )
        return removed, updated

    def roles_from_memberships(self) -> None:
        """A OneRoster 1.2 delta carries only the role rows that changed, so a person's kind and roles are
        worked out again from all the memberships the district now holds for the people it names."""
        person, membership = sql.table(Person), sql.table(Membership)
        d = self.district.pk
        self.cursor.execute(
            f"""SELECT p.id, m.role FROM {person} p
                JOIN sg_mem s ON s.person_code = p.sis_code
                LEFT JOIN {membership} m ON m.person_id = p.id
                WHERE p.district_id = %s""",
            [d],
        )
        roles: dict[int, set[str]] = {}
        for person_id, role in self.cursor.fetchall():
            roles.setdefault(person_id, set()).update([role] if role else [])
        updates = [
            (kind_of(found), ",".join(sorted(found)), person_id)
            for person_id, found in roles.items()
            if found
        ]
        self.cursor.executemany(f"UPDATE {person} SET kind = %s, roles = %s WHERE id = %s", updates)
        self.cursor.executemany(
            f"""INSERT INTO {SCOPE_TABLE} SELECT %s WHERE NOT EXISTS
                (SELECT 1 FROM {SCOPE_TABLE} x WHERE x.person_id = %s)""",
            [(pid, pid) for _, _, pid in updates],
        )


def kind_of(roles: set[str]) -> str:
    """A person's kind from their SIS roles: a student first, then staff, else a contact."""
    if "student" in roles:
        return "student"
    if roles - CONTACT_ROLES:
        return "staff"
    return "contact"


CONTACT_ROLES = {"parent", "guardian", "relative"}


def mirror(
    cursor: Any,
    district: District,
    modes: dict[str, Mode],
    *,
    memberships_replace_owners: bool,
    max_problems: int = 200,
) -> MirrorResult:
    """Apply the staged rows; stops at the first stage that finds errors (the caller rolls back).

    Leaves SCOPE_TABLE holding the people whose rows, links or memberships this run touched — except after a
    first import (`fresh`), where everyone was touched and it is left empty.
    """
    work = _Mirror(cursor, district, max_problems)
    work.result.fresh = not Person.objects.filter(district=district).exists()
    sql.create_temp_table(cursor, SCOPE_TABLE, "person_id BIGINT PRIMARY KEY")
    sql.create_temp_table(cursor, DECLARERS_TABLE, "person_id BIGINT PRIMARY KEY")
    work.orgs(modes["orgs"])
    work.people(modes["people"])
    if work.result.errors:
        return work.result
    work.check_references(modes["relations"], modes["memberships"])
    if work.result.errors:
        return work.result
    # Memberships first: in a OneRoster 1.2 delta they decide people's roles, which links' relationships
    # are inferred from.
    work.memberships(modes["memberships"], memberships_replace_owners)
    relations = modes["relations"]
    if relations == Mode.ABSENT and modes["memberships"] == Mode.DELTA:
        # Role rows without users (OneRoster 1.2: a delta of roles.csv alone) declare no links, but the roles
        # they change decide the relationship inferred for those people's links (a relative who becomes a
        # parent): their links are re-examined as a delta that declares nothing.
        relations = Mode.DELTA
    work.links(relations)
    return work.result
