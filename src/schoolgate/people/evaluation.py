"""Evaluating the rules over a district's links and people, with admin overrides on top.

One statement computes, for every link in scope, the rules' decision (flag, deciding rule, sections) and the
decision in force (the rules', unless an active override forces the flag or a section), keeps only the links
whose outcome changed, and writes them. Contacts whose links changed join the sync's scope, so their accounts
are reconciled; that is also how an override's expiry reaches the account.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from schoolgate.core import sql
from schoolgate.core.models import District
from schoolgate.people.eligibility import link_decision, person_decision
from schoolgate.people.models import SECTION_BITS, Link, Override, Person

CHANGED_TABLE = "sg_linkeval"


def active_overrides_sql(now: datetime) -> tuple[str, list[Any]]:
    """Per link with overrides in force: the forced flag (1/0 or NULL) and the masks of sections forced on/off."""
    bit = (
        "CASE o.field "
        + " ".join(f"WHEN '{name}' THEN {b}" for name, b in SECTION_BITS.items())
        + " ELSE 0 END"
    )
    return (
        f"""SELECT o.link_id AS link_id,
                   MAX(CASE WHEN o.field = 'portal' THEN (CASE WHEN o.value THEN 1 ELSE 0 END) END) AS o_flag,
                   SUM(CASE WHEN o.field <> 'portal' AND o.value THEN {bit} ELSE 0 END) AS on_mask,
                   SUM(CASE WHEN o.field <> 'portal' AND NOT o.value THEN {bit} ELSE 0 END) AS off_mask
            FROM {sql.table(Override)} o
            WHERE o.district_id = %s AND o.removed_at IS NULL AND (o.expires_at IS NULL OR o.expires_at > %s)
            GROUP BY o.link_id""",
        [sql.db_datetime(now)],
    )


def evaluate_links(district: District, scope: str | None = None, *, scope_table: str | None = None) -> int:
    """Recompute links' decisions; returns how many links changed.

    `scope`, when given, is SQL yielding a `person_id` column: only links touching those people (and links
    carrying overrides, whose expiry may have come) are evaluated. With `scope_table`, the contacts of the
    changed links are added to that table.
    """
    decision = link_decision(district)
    link, person, override = sql.table(Link), sql.table(Person), sql.table(Override)
    now = timezone.now()
    overrides, override_params = active_overrides_sql(now)
    within, within_params = "", []
    if scope:
        within = f"""AND l.id IN ({sql.links_touching(scope)}
                                UNION SELECT o.link_id FROM {override} o WHERE o.district_id = %s)"""
        within_params = [district.pk, district.pk, district.pk]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {CHANGED_TABLE}")
        cursor.execute(
            f"""CREATE TEMPORARY TABLE {CHANGED_TABLE} AS
                SELECT d.id AS id, d.contact_id AS contact_id, d.rule AS rule, d.flag AS flag, d.perms AS perms,
                       d.eff_flag AS eff_flag, d.eff_perms AS eff_perms
                FROM (
                    SELECT r.id AS id, r.contact_id AS contact_id, r.rule AS rule, r.flag AS flag, r.perms AS perms,
                           CASE WHEN ov.o_flag IS NULL THEN r.flag ELSE ov.o_flag = 1 END AS eff_flag,
                           ((r.perms & ~COALESCE(ov.off_mask, 0)) | COALESCE(ov.on_mask, 0)) AS eff_perms,
                           r.old_rule, r.old_flag, r.old_perms, r.old_eff_flag, r.old_eff_perms
                    FROM (
                        SELECT l.id AS id, l.contact_id AS contact_id,
                               {decision.rule} AS rule, {decision.flag} AS flag, {decision.sections} AS perms,
                               l.flag_rule AS old_rule, l.rule_flag AS old_flag, l.rule_permissions AS old_perms,
                               l.portal_flag AS old_eff_flag, l.permissions AS old_eff_perms
                        FROM {link} l
                        JOIN {person} s ON s.id = l.student_id
                        JOIN {person} c ON c.id = l.contact_id
                        WHERE l.district_id = %s {within}
                    ) r
                    LEFT JOIN ({overrides}) ov ON ov.link_id = r.id
                ) d
                WHERE {sql.differs("d.rule", "d.old_rule")} OR {sql.differs("d.flag", "d.old_flag")}
                   OR {sql.differs("d.perms", "d.old_perms")} OR {sql.differs("d.eff_flag", "d.old_eff_flag")}
                   OR {sql.differs("d.eff_perms", "d.old_eff_perms")}""",
            [*decision.params, district.pk, *within_params, district.pk, *override_params],
        )
        cursor.execute(
            f"""UPDATE {link} SET flag_rule = c.rule, rule_flag = c.flag, rule_permissions = c.perms,
                    portal_flag = c.eff_flag, permissions = c.eff_perms
                FROM {CHANGED_TABLE} c WHERE {link}.id = c.id"""
        )
        changed = cursor.rowcount
        if scope_table:
            cursor.execute(
                f"""INSERT INTO {scope_table} SELECT DISTINCT c.contact_id FROM {CHANGED_TABLE} c
                    WHERE NOT EXISTS (SELECT 1 FROM {scope_table} x WHERE x.person_id = c.contact_id)"""
            )
        sql.drop_temp_table(cursor, CHANGED_TABLE)
    return changed


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
            [*decision.rule_params, *decision.flag_params, district.pk],
        )
        return cursor.rowcount


def disagreements(district: District) -> list[dict[str, Any]]:
    """Overrides in force where the SIS rules now decide otherwise: reported by every sync."""
    rows = (
        Override.objects.filter(district=district, removed_at__isnull=True)
        .exclude(expires_at__lte=timezone.now())
        .select_related("link__student", "link__contact")
        .order_by("link__contact__sis_code", "link__student__sis_code", "field")
    )
    found = []
    for override in rows:
        link = override.link
        if override.field == "portal":
            rules_say = link.rule_flag
        else:
            rules_say = bool(link.rule_permissions & SECTION_BITS[override.field])
        if rules_say != override.value:
            found.append(
                {
                    "contact": link.contact.sis_code,
                    "student": link.student.sis_code,
                    "field": override.field,
                    "override": override.value,
                    "rules": rules_say,
                    "reason": override.reason,
                }
            )
    return found
