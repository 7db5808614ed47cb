"""Quick checks of the synthetic district generator (small N; runs in a few seconds).

.venv/bin/pytest -p no:django bench/test_generate.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from generate import generate_set, main
from oneroster_set import USERS_HEADER, links_of, problems_in_set, read_set
from rng import Draws

N = 3000
SEED = 7


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("base")
    return folder, generate_set(folder, N, seed=SEED)


@pytest.fixture(scope="module")
def churned(tmp_path_factory: pytest.TempPathFactory, base: tuple[Path, dict]) -> tuple[Path, dict]:
    from churn import churn_set

    folder = tmp_path_factory.mktemp("churn")
    return folder, churn_set(base[0], folder, 0.01, seed=SEED)


def users_of(folder: Path) -> pl.DataFrame:
    return read_set(folder)[1]


def test_files_and_headers_are_exact(base):
    folder, _ = base
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.csv", "orgs.csv", "users.csv"]
    assert (folder / "users.csv").read_text(encoding="utf-8").splitlines()[0] == ",".join(USERS_HEADER)
    assert (folder / "users.csv").read_text(encoding="utf-8").splitlines()[0] == (
        "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,"
        "familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password"
    )
    manifest = dict(pl.read_csv(folder / "manifest.csv", infer_schema=False).iter_rows())
    assert manifest["manifest.version"] == "1.0"
    assert manifest["oneroster.version"] == "1.1"
    assert manifest["file.orgs"] == manifest["file.users"] == "bulk"
    others = {
        v for k, v in manifest.items() if k.startswith("file.") and k not in {"file.orgs", "file.users"}
    }
    assert others == {"absent"}


def test_set_is_referentially_complete(base):
    assert problems_in_set(base[0]) == []


def test_row_counts_and_ratios(base):
    folder, summary = base
    users = users_of(folder)
    roles = users["role"].value_counts()
    count = dict(roles.iter_rows())
    assert count["student"] == N == summary["students"]
    assert count["teacher"] + count["administrator"] == round(N / 12) == summary["staff"]
    contacts = count["parent"] + count["guardian"] + count["relative"]
    assert contacts == summary["contacts"] == round(2.0 * N)  # the default density, exactly
    assert 1.45 <= summary["mean_siblings_per_family"] <= 1.75
    assert 0.3 <= summary["sibling_families_across_schools_share"] <= 0.8
    assert summary["students_with_3_or_more_contacts"] > 0
    assert summary["schools"] == round(N / 600)
    # Mothers and fathers are mostly `parent`, some `guardian`.
    assert count["parent"] > 4 * count["guardian"] > 0
    assert users.filter(pl.col("role") == "student")["enabledUser"].unique().to_list() == ["true"]


def test_contacts_per_student_is_a_knob(tmp_path):
    summary = generate_set(tmp_path, 2000, seed=SEED, contacts_per_student=1.0)
    # Families alone give ≈ 1.2 contacts per student; relatives never go below 5% of families.
    assert 1.15 <= summary["contacts_per_student"] <= 1.35
    assert problems_in_set(tmp_path) == []


def test_links_both_directions_and_quoting(base):
    folder, _ = base
    users = users_of(folder)
    contacts = users.filter(pl.col("role").is_in(["parent", "guardian", "relative"]))
    listing = contacts["agentSourcedIds"].is_not_null().mean()
    assert 0.07 <= listing <= 0.13
    students = users.filter(pl.col("role") == "student")
    assert students["agentSourcedIds"].is_not_null().all()
    # Multi-valued fields are quoted: "con-…,con-…".
    assert '"con-' in (folder / "users.csv").read_text(encoding="utf-8")
    # Contact-side links agree with student-side ones.
    links = links_of(users)
    student_side = students.select(student="sourcedId", contact=pl.col("agentSourcedIds").str.split(","))
    assert links.height == student_side.explode("contact").height


def test_orgs_shape(base):
    orgs = read_set(base[0])[0]
    district = orgs.filter(pl.col("type") == "district")
    assert district.height == 1
    schools = orgs.filter(pl.col("type") == "school")
    assert (schools["parentSourcedId"] == district["sourcedId"][0]).all()
    assert schools["name"].n_unique() == schools.height


def test_staff_belong_to_one_school(base):
    users = users_of(base[0])
    staff = users.filter(pl.col("role").is_in(["teacher", "administrator"]))
    assert staff["orgSourcedIds"].str.starts_with("sch-").all()
    assert not staff["orgSourcedIds"].str.contains(",").any()
    assert 0.03 <= (staff["role"] == "administrator").mean() <= 0.15


def test_names_are_realistic(base):
    users = users_of(base[0])
    top = users["familyName"].value_counts(sort=True)
    assert top["familyName"][0] == "Smith"
    assert top["count"][0] > 0.03 * users.height  # common names repeat a lot
    names = users.select(pl.concat_str(["givenName", "familyName"], separator=" ")).to_series()
    assert names.str.contains(r"[À-ÿ]").any()  # accented Latin
    scripts = r"\p{Cyrillic}\p{Han}\p{Hangul}\p{Hiragana}\p{Katakana}\p{Arabic}\p{Hebrew}\p{Greek}"
    assert names.str.contains(f"[{scripts}]").any()  # native script
    assert users["email"].str.contains(r"^[a-z0-9]+\.[a-z0-9]+\+\d+@[a-z.]+$").all()
    assert (users["username"] == users["email"]).all()
    phones = users["phone"].drop_nulls()
    assert phones.str.contains(r"^\(\d{3}\) 555-\d{4}$").all()
    assert phones.n_unique() == phones.len()


def test_deterministic_for_a_seed(tmp_path, base):
    again = tmp_path / "again"
    generate_set(again, N, seed=SEED)
    for name in ("manifest.csv", "orgs.csv", "users.csv"):
        assert (again / name).read_bytes() == (base[0] / name).read_bytes()
    other = tmp_path / "other"
    generate_set(other, N, seed=SEED + 1)
    assert (other / "users.csv").read_bytes() != (base[0] / "users.csv").read_bytes()


def test_churn_changes_what_it_says(base, churned):
    (before_dir, before), (after_dir, summary) = base, churned
    assert problems_in_set(after_dir) == []
    old, new = users_of(before_dir), users_of(after_dir)
    old_students = set(old.filter(pl.col("role") == "student")["sourcedId"])
    new_students = set(new.filter(pl.col("role") == "student")["sourcedId"])
    assert len(old_students - new_students) == summary["students_left"] == round(0.01 * N)
    assert len(new_students - old_students) == summary["students_joined"] == summary["students_left"]
    assert summary["students"] == len(new_students)
    old_contacts = set(old.filter(pl.col("role").is_in(["parent", "guardian", "relative"]))["sourcedId"])
    new_contacts = set(new.filter(pl.col("role").is_in(["parent", "guardian", "relative"]))["sourcedId"])
    assert len(old_contacts - new_contacts) == summary["contacts_left"] > 0
    assert len(new_contacts - old_contacts) == summary["contacts_joined"] > 0
    # Joiners get ids after every existing one.
    assert min(new_students - old_students) > max(old_students)
    kept = old.join(new, on="sourcedId", suffix="_new")
    assert kept["email"].ne_missing(kept["email_new"]).sum() == summary["contacts_email_changed"] > 0
    # A contact with no phone before may get one.
    assert kept["phone"].ne_missing(kept["phone_new"]).sum() == summary["contacts_phone_changed"] > 0
    disabled = kept.filter((pl.col("enabledUser") == "true") & (pl.col("enabledUser_new") == "false"))
    assert disabled.height == summary["students_disabled"] >= 1
    staff = kept.filter(pl.col("role").is_in(["teacher", "administrator"]))
    assert staff.height == before["staff"]
    assert staff.select((pl.col("email") == pl.col("email_new")).all()).item()


def test_churn_is_deterministic(tmp_path, base, churned):
    from churn import churn_set

    churn_set(base[0], tmp_path, 0.01, seed=SEED)
    assert (tmp_path / "users.csv").read_bytes() == (churned[0] / "users.csv").read_bytes()


def test_cli_prints_one_json_line(tmp_path, capsys, base):
    assert main([str(tmp_path / "b"), "--students", "50", "--seed", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["students"] == 50
    churn_args = ["--churn-from", str(tmp_path / "b"), "--churn", "0.1", "--seed", "3"]
    assert main([str(tmp_path / "c"), *churn_args]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert json.loads(out)["students_left"] == 5


def test_draws_are_reproducible():
    assert Draws("x").u32(5).to_list() == Draws("x").u32(5).to_list()
    assert sorted(Draws("x").permutation(100).to_list()) == list(range(100))
    picks = Draws("y").categorical(20_000, [1, 0, 3])
    share = (picks == 2).mean()
    assert (picks != 1).all() and 0.72 <= share <= 0.78
