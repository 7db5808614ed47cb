"""Generate a synthetic OneRoster 1.1 bulk set for benchmarks and demos.

    python bench/generate.py OUT_DIR --students N [--seed S] [--contacts-per-student R]
    python bench/generate.py OUT_DIR --churn-from DIR [--churn 0.01] [--seed S]

The first form writes a district of N students, their families' contacts and one staff member per 12
students (see district.py for the model). The second reads a set written by the first and writes the next
day's bulk set: about `churn` of the students leave (with their contacts when no sibling remains), as many
join in new families, half that share of contacts change e-mail or phone, and a few students are disabled.
Either form prints a one-line JSON summary on stdout. The same arguments always produce the same files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import polars as pl

from churn import churn_set
from district import (
    DEFAULT_CONTACTS_PER_STUDENT,
    STUDENTS_PER_STAFF,
    People,
    build_families,
    build_staff,
    plan_schools,
)
from namebank import NameBank
from oneroster_set import write_set
from rng import Draws
from users_rows import users_frame

DEFAULT_SEED = 20250101


def generate_set(
    out_dir: Path,
    n_students: int,
    seed: int = DEFAULT_SEED,
    contacts_per_student: float = DEFAULT_CONTACTS_PER_STUDENT,
) -> dict:
    """Write a base bulk set of `n_students` into `out_dir`; return its summary."""
    if n_students < 1:
        raise ValueError("--students must be at least 1")
    started = time.perf_counter()
    bank = NameBank.load()
    draws = Draws(f"{seed}:base")
    schools, orgs = plan_schools(n_students, draws, bank)
    people = build_families(n_students, draws, bank, schools, contacts_per_student=contacts_per_student)
    per_school = people.students.group_by("school").agg(students=pl.len()).sort("school")
    staff = build_staff(max(1, round(n_students / STUDENTS_PER_STAFF)), draws, bank, per_school)
    users = users_frame(people, bank, staff)
    write_set(out_dir, orgs, users)
    summary = summarize(people, staff, n_schools=len(schools.all))
    return {"out": str(out_dir), "seed": seed, **summary, "seconds": round(time.perf_counter() - started, 2)}


def summarize(people: People, staff: pl.DataFrame | None, n_schools: int) -> dict:
    """The ratios the benchmark issue asks about, as generated."""
    students, contacts, links = people.students, people.contacts, people.links
    n_students, n_contacts = students.height, contacts.height
    n_staff = 0 if staff is None else staff.height
    family_sizes = students.group_by("family").agg(
        size=pl.len(), schools=pl.col("school").n_unique(), natives=pl.col("native").first()
    )
    with_siblings = family_sizes.filter(pl.col("size") > 1)
    per_student = links.group_by("student").len()
    roles = contacts["role"].value_counts().sort("role")
    staff_roles = {} if staff is None else dict(staff["role"].value_counts().sort("role").iter_rows())
    return {
        "students": n_students,
        "contacts": n_contacts,
        "staff": n_staff,
        "schools": n_schools,
        "families": family_sizes.height,
        "users_rows": n_students + n_contacts + n_staff,
        "contacts_per_student": round(n_contacts / n_students, 3),
        "links_per_student": round(links.height / n_students, 3),
        "students_with_3_or_more_contacts": int((per_student["len"] >= 3).sum()),
        "mean_siblings_per_family": round(n_students / family_sizes.height, 3),
        "families_with_siblings_share": round(with_siblings.height / family_sizes.height, 3),
        "sibling_families_across_schools_share": round(
            (with_siblings["schools"] > 1).sum() / max(1, with_siblings.height), 3
        ),
        "native_script_family_share": round(float(family_sizes["natives"].mean() or 0), 4),
        "students_per_staff": round(n_students / n_staff, 2) if n_staff else None,
        "contact_roles": dict(roles.iter_rows()),
        "staff_roles": staff_roles,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "out_dir", type=Path, help="folder to write manifest.csv, orgs.csv and users.csv into"
    )
    parser.add_argument("--students", type=int, help="number of students (base set)")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--contacts-per-student",
        type=float,
        default=DEFAULT_CONTACTS_PER_STUDENT,
        help="contact records per student in the district (default %(default)s; families alone give ≈ 1.2)",
    )
    parser.add_argument("--churn-from", type=Path, help="write the next bulk set after this one")
    parser.add_argument("--churn", type=float, default=0.01, help="share of students leaving/joining (0.01)")
    args = parser.parse_args(argv)
    if args.churn_from is not None:
        if not 0 <= args.churn < 1:
            parser.error("--churn must be in [0, 1)")
        summary = churn_set(args.churn_from, args.out_dir, args.churn, args.seed)
    else:
        if args.students is None:
            parser.error("--students is required unless --churn-from is given")
        summary = generate_set(args.out_dir, args.students, args.seed, args.contacts_per_student)
    json.dump(summary, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
