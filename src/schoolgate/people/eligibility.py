"""Eligibility rules: who should have a login, which contacts may see which students, and which sections.

Rules are data (`EligibilityRule` rows). They are compiled here into SQL CASE expressions, one per outcome,
which `schoolgate.people.evaluation` runs set-based over the district (and the sync engine runs inline as it
inserts new rows). The deciding rule's name is stored on each link (`flag_rule`) and person (`login_rule`) so a
diagnosis can name the clause that granted or refused access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schoolgate.core import sql
from schoolgate.core.models import District
from schoolgate.people.models import (
    ALL_SECTIONS,
    SECTION_BITS,
    SECTIONS,
    EligibilityRule,
    RuleAudience,
    RuleEffect,
)

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
    """SQL for the deciding rule's name, the allowed flag and the granted sections, each with its parameters.

    Link decisions read aliases `l` (link), `s` (student) and `c` (contact); person decisions read `p`.
    """

    rule: str
    flag: str
    sections: str
    rule_params: list[Any]
    flag_params: list[Any]
    sections_params: list[Any]

    @property
    def params(self) -> list[Any]:
        """Parameters for SQL that uses `rule`, then `flag`, then `sections`."""
        return [*self.rule_params, *self.flag_params, *self.sections_params]


def rule_sections(rule: EligibilityRule) -> int:
    """The permission mask an allowing rule grants (every section unless the rule lists some)."""
    if rule.effect != RuleEffect.ALLOW:
        return 0
    if rule.sections is None:
        return ALL_SECTIONS
    return sum(SECTION_BITS[name] for name in rule.sections)


def validate_sections(sections: Any) -> None:
    if sections is None:
        return
    if not isinstance(sections, list) or any(name not in SECTION_BITS for name in sections):
        raise InvalidRule(f"sections must be a list drawn from {', '.join(SECTIONS)}")


def _decision(district: District, audience: str) -> Decision:
    """The audience's rules, tried in order, as three CASE expressions."""
    rules = rules_for(district, audience)
    if not rules:
        return Decision("''", sql.sql_false(), "0", [], [], [])
    rule_whens, flag_whens, section_whens = [], [], []
    rule_params: list[Any] = []
    flag_params: list[Any] = []
    section_params: list[Any] = []
    for rule in rules:
        compiled = compile_conditions(rule.audience, rule.conditions)
        rule_whens.append(f"WHEN {compiled.sql} THEN %s")
        rule_params += [*compiled.params, rule.name]
        allowed = sql.sql_true() if rule.effect == RuleEffect.ALLOW else sql.sql_false()
        flag_whens.append(f"WHEN {compiled.sql} THEN {allowed}")
        flag_params += compiled.params
        section_whens.append(f"WHEN {compiled.sql} THEN {rule_sections(rule)}")
        section_params += compiled.params
    return Decision(
        f"CASE {' '.join(rule_whens)} ELSE '' END",
        f"CASE {' '.join(flag_whens)} ELSE {sql.sql_false()} END",
        f"CASE {' '.join(section_whens)} ELSE 0 END",
        rule_params,
        flag_params,
        section_params,
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
        "0",
        [*student.rule_params, *staff.rule_params],
        [*student.flag_params, *staff.flag_params],
        [],
    )


def install_default_rules(district: District) -> None:
    """Give a new district the default rules (idempotent: existing rules are left alone)."""
    if EligibilityRule.objects.filter(district=district).exists():
        return
    positions: dict[str, int] = {}
    for rule in DEFAULT_RULES:
        positions[rule["audience"]] = positions.get(rule["audience"], 0) + 10
        EligibilityRule.objects.create(district=district, position=positions[rule["audience"]], **rule)
