"""Eligibility rules: who should have a login, and which contacts may see which students.

Rules are data (`EligibilityRule` rows). They are compiled here into one SQL CASE expression per audience and
evaluated set-based over the whole district in a single UPDATE, writing only rows whose outcome changed. The
deciding rule's name is stored on each link (`flag_rule`) and person (`login_rule`) so a diagnosis can name the
clause that granted or refused access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection

from schoolgate.core import sql
from schoolgate.core.models import District
from schoolgate.people.models import EligibilityRule, Link, Person, RuleAudience, RuleEffect

# Condition fields an admin may use, per audience: name → (SQL column, kind of value).
# Link rules see the link (l), its student (s) and its contact (c); person rules see the person (p).
LINK_FIELDS: dict[str, tuple[str, str]] = {
    "relationship": ("l.relationship", "in"),
    "lives_with": ("l.lives_with", "bool"),
    "custody": ("l.custody", "bool"),
    "priority_at_most": ("l.priority", "max"),
    "student_enabled": ("s.enabled", "bool"),
    "student_in_sis": ("s.in_sis", "bool"),
    "student_grades": ("s.grades", "in"),
    "contact_enabled": ("c.enabled", "bool"),
    "contact_roles_any": ("c.roles", "roles"),
}
PERSON_FIELDS: dict[str, tuple[str, str]] = {
    "enabled": ("p.enabled", "bool"),
    "in_sis": ("p.in_sis", "bool"),
    "grades": ("p.grades", "in"),
    "roles_any": ("p.roles", "roles"),
}
CONDITION_FIELDS = {
    RuleAudience.CONTACT: LINK_FIELDS,
    RuleAudience.STUDENT: PERSON_FIELDS,
    RuleAudience.STAFF: PERSON_FIELDS,
}

# Relationships that count as parents by default. Relatives and other contacts get no access unless a
# district adds a rule for them.
PARENT_RELATIONSHIPS = ["parent", "guardian", "mother", "father", "stepmother", "stepfather", "foster parent"]

DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "audience": RuleAudience.CONTACT,
        "name": "parents-and-guardians",
        "effect": RuleEffect.ALLOW,
        "conditions": {"relationship": PARENT_RELATIONSHIPS, "student_enabled": True, "student_in_sis": True},
        "description": "A parent or guardian linked to an enabled, active student may see that student.",
    },
    {
        "audience": RuleAudience.CONTACT,
        "name": "relatives-no-access",
        "effect": RuleEffect.DENY,
        "conditions": {"relationship": ["relative"]},
        "description": "Relatives are not given portal access.",
    },
    {
        "audience": RuleAudience.STUDENT,
        "name": "enabled-students",
        "effect": RuleEffect.ALLOW,
        "conditions": {"enabled": True, "in_sis": True},
        "description": "Every enabled, active student gets a login.",
    },
    {
        "audience": RuleAudience.STAFF,
        "name": "enabled-staff",
        "effect": RuleEffect.ALLOW,
        "conditions": {"enabled": True, "in_sis": True},
        "description": "Every enabled, active staff member gets a login.",
    },
]


class InvalidRule(ValueError):
    """A rule's conditions name an unknown field or a value of the wrong kind."""


@dataclass(frozen=True)
class Compiled:
    sql: str
    params: list[Any]


def validate_conditions(audience: str, conditions: dict[str, Any]) -> None:
    """Reject conditions an evaluation could not honour, naming the offending field."""
    fields = CONDITION_FIELDS.get(RuleAudience(audience))
    if fields is None:
        raise InvalidRule(f"unknown audience {audience!r}")
    if not isinstance(conditions, dict):
        raise InvalidRule("conditions must be an object of field: value")
    for key, value in conditions.items():
        if key not in fields:
            raise InvalidRule(
                f"condition {key!r} is not available for {audience} rules (use: {', '.join(fields)})"
            )
        kind = fields[key][1]
        if kind == "bool" and not isinstance(value, bool):
            raise InvalidRule(f"condition {key!r} needs true or false, not {value!r}")
        if kind in ("in", "roles") and not (
            isinstance(value, list) and value and all(isinstance(v, str) for v in value)
        ):
            raise InvalidRule(f"condition {key!r} needs a non-empty list of text values")
        if kind == "max" and (not isinstance(value, int) or isinstance(value, bool)):
            raise InvalidRule(f"condition {key!r} needs a whole number")


def compile_conditions(audience: str, conditions: dict[str, Any]) -> Compiled:
    """One rule's conditions as an SQL predicate (all must hold); no conditions always holds."""
    validate_conditions(audience, conditions)
    fields = CONDITION_FIELDS[RuleAudience(audience)]
    clauses: list[str] = []
    params: list[Any] = []
    for key, value in sorted(conditions.items()):
        column, kind = fields[key]
        if kind == "bool":
            clauses.append(f"{column} = %s")
            params.append(value)
        elif kind == "max":
            clauses.append(f"{column} <= %s")
            params.append(value)
        elif kind == "in":
            clauses.append(f"{column} IN ({', '.join('%s' for _ in value)})")
            params.extend(value)
        else:  # roles: any of the listed roles appears in the comma-joined list
            ors = " OR ".join(f"(',' || {column} || ',') LIKE %s" for _ in value)
            clauses.append(f"({ors})")
            params.extend(f"%,{role},%" for role in value)
    return Compiled(" AND ".join(clauses) or sql.sql_true(), params)


def rules_for(district: District, audience: str) -> list[EligibilityRule]:
    return list(EligibilityRule.objects.filter(district=district, audience=audience).order_by("position"))


@dataclass(frozen=True)
class Decision:
    """SQL for the deciding rule's name and for the allowed flag, each with its parameters.

    Link decisions read aliases `l` (link), `s` (student) and `c` (contact); person decisions read `p`.
    """

    rule: str
    flag: str
    rule_params: list[Any]
    flag_params: list[Any]

    @property
    def params(self) -> list[Any]:
        """Parameters for SQL that uses `rule` before `flag`."""
        return [*self.rule_params, *self.flag_params]


def _decision(district: District, audience: str) -> Decision:
    """The audience's rules, tried in order, as two CASE expressions."""
    rules = rules_for(district, audience)
    if not rules:
        return Decision("''", sql.sql_false(), [], [])
    rule_whens, flag_whens, rule_params, flag_params = [], [], [], []
    for rule in rules:
        compiled = compile_conditions(rule.audience, rule.conditions)
        rule_whens.append(f"WHEN {compiled.sql} THEN %s")
        rule_params += [*compiled.params, rule.name]
        allowed = sql.sql_true() if rule.effect == RuleEffect.ALLOW else sql.sql_false()
        flag_whens.append(f"WHEN {compiled.sql} THEN {allowed}")
        flag_params += compiled.params
    return Decision(
        f"CASE {' '.join(rule_whens)} ELSE '' END",
        f"CASE {' '.join(flag_whens)} ELSE {sql.sql_false()} END",
        rule_params,
        flag_params,
    )


def link_decision(district: District) -> Decision:
    """The district's contact rules as SQL over `l`, `s`, `c`."""
    return _decision(district, RuleAudience.CONTACT)


def person_decision(district: District) -> Decision:
    """The district's student and staff rules as SQL over `p`, dispatching on the person's kind."""
    student, staff = _decision(district, RuleAudience.STUDENT), _decision(district, RuleAudience.STAFF)
    return Decision(
        f"CASE p.kind WHEN 'student' THEN {student.rule} WHEN 'staff' THEN {staff.rule} ELSE '' END",
        f"CASE p.kind WHEN 'student' THEN {student.flag} WHEN 'staff' THEN {staff.flag} "
        f"ELSE {sql.sql_false()} END",
        [*student.rule_params, *staff.rule_params],
        [*student.flag_params, *staff.flag_params],
    )


def evaluate_links(district: District, scope: str | None = None) -> int:
    """Recompute links' portal flags from the rules; returns how many links changed.

    `scope`, when given, is SQL yielding a `person_id` column: only links touching those people are evaluated (a sync
    passes the people it changed; rule edits evaluate everything).
    """
    decision = link_decision(district)
    link, person = sql.table(Link), sql.table(Person)
    within = f"AND l.id IN ({sql.links_touching(scope)})" if scope else ""
    statement = f"""
        UPDATE {link} SET portal_flag = d.flag, flag_rule = d.rule
        FROM (
            SELECT l.id AS id, {decision.rule} AS rule, {decision.flag} AS flag
            FROM {link} l
            JOIN {person} s ON s.id = l.student_id
            JOIN {person} c ON c.id = l.contact_id
            WHERE l.district_id = %s {within}
        ) d
        WHERE {link}.id = d.id
          AND ({sql.differs(f"{link}.flag_rule", "d.rule")} OR {sql.differs(f"{link}.portal_flag", "d.flag")})
    """
    with connection.cursor() as cursor:
        cursor.execute(statement, [*decision.params, district.pk, *([district.pk] * 2 if scope else [])])
        return cursor.rowcount


def evaluate_people(district: District, scope: str | None = None) -> int:
    """Recompute students' and staff's own login decision; returns how many people changed."""
    decision = person_decision(district)
    person = sql.table(Person)
    within = f"AND p.id IN ({scope})" if scope else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {person} SET login_rule = d.rule, login_allowed = d.flag
            FROM (
                SELECT p.id AS id, {decision.rule} AS rule, {decision.flag} AS flag
                FROM {person} p WHERE p.district_id = %s {within}
            ) d
            WHERE {person}.id = d.id
              AND ({sql.differs(f"{person}.login_rule", "d.rule")}
                   OR {sql.differs(f"{person}.login_allowed", "d.flag")})
            """,
            [*decision.params, district.pk],
        )
        return cursor.rowcount


def install_default_rules(district: District) -> None:
    """Give a new district the default rules (idempotent: existing rules are left alone)."""
    if EligibilityRule.objects.filter(district=district).exists():
        return
    positions: dict[str, int] = {}
    for rule in DEFAULT_RULES:
        positions[rule["audience"]] = positions.get(rule["audience"], 0) + 10
        EligibilityRule.objects.create(district=district, position=positions[rule["audience"]], **rule)
