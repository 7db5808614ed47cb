"""Fingerprint narrowing: a bulk set applied through the narrowed path leaves the district exactly as a full
apply would, for every kind of change a daily SIS export carries."""

from __future__ import annotations

from tests.builders import write_oneroster
from tests.factories import make_district

ORGS = [{"sourcedId": "sch1", "type": "school"}, {"sourcedId": "sch2", "type": "school"}]


def base_users() -> list[dict]:
    users = []
    for i in range(10):
        users += [
            {
                "sourcedId": f"s{i}",
                "role": "student",
                "orgSourcedIds": "sch1",
                "agentSourcedIds": f"m{i},d{i}",
            },
            {"sourcedId": f"m{i}", "role": "parent", "orgSourcedIds": "sch1", "email": f"m{i}@example.org"},
            {"sourcedId": f"d{i}", "role": "parent", "orgSourcedIds": "sch1"},
        ]
    users.append({"sourcedId": "t1", "role": "teacher", "orgSourcedIds": "sch1"})
    return users


def churned_users() -> list[dict]:
    users = {u["sourcedId"]: dict(u) for u in base_users()}
    users["m0"]["email"] = "new@example.org"  # a contact's details change
    users["d1"]["role"] = "relative"  # a contact's role changes; the student's row does not
    del users["s2"]  # a student leaves …
    del users["m2"], users["d2"]  # … with the family
    users["s20"] = {"sourcedId": "s20", "role": "student", "orgSourcedIds": "sch2", "agentSourcedIds": "m20"}
    users["m20"] = {"sourcedId": "m20", "role": "guardian", "orgSourcedIds": "sch2"}  # a new family
    users["s3"]["agentSourcedIds"] = "m3,m4"  # a link moves
    users["s5"]["agentSourcedIds"] = "d5"  # a link now declared from the parent's side instead
    users["m5"]["agentSourcedIds"] = "s5"
    users["s6"]["enabledUser"] = "false"  # a student is disabled
    users["m7"]["enabledUser"] = "false"  # a parent is disabled
    del users["t1"]  # staff changes
    users["t2"] = {"sourcedId": "t2", "role": "administrator", "orgSourcedIds": "sch1,sch2"}
    users["s8"]["orgSourcedIds"] = "sch2"  # a student changes school
    return list(users.values())


def state(cli, slug: str) -> dict:
    from schoolgate.people.models import Link, Membership, Person

    people = Person.objects.filter(district__slug=slug)
    return {
        "people": sorted(
            people.values_list(
                "sis_code", "kind", "roles", "email", "enabled", "in_sis", "login_rule", "login_allowed"
            )
        ),
        "links": sorted(
            Link.objects.filter(district__slug=slug).values_list(
                "student__sis_code",
                "contact__sis_code",
                "relationship",
                "sis_relationship",
                "declared_by_student",
                "declared_by_contact",
                "in_sis",
                "portal_flag",
                "flag_rule",
            )
        ),
        "memberships": sorted(
            Membership.objects.filter(district__slug=slug).values_list(
                "person__sis_code", "school__sis_code", "role", "is_primary"
            )
        ),
        "accounts": sorted(
            (a["person"], a["state"], a["reason"], tuple(a["students"]))
            for a in cli("accounts", slug, "--json").json["accounts"]
        ),
    }


def test_narrowed_apply_equals_full_apply(cli, db, tmp_path):
    base = write_oneroster(tmp_path / "base", users=base_users(), orgs=ORGS)
    churn = write_oneroster(tmp_path / "churn", users=churned_users(), orgs=ORGS)
    narrowed, full = make_district("narrowed"), make_district("full")

    assert cli("sync", narrowed.slug, base, "--json").json["status"] == "applied"
    assert cli("sync", full.slug, base, "--json", "--full").json["status"] == "applied"
    applied = cli("sync", narrowed.slug, churn, "--json", "--confirm").json
    assert applied["status"] == "applied", applied
    # Staged: 8 changed (m0 d1 s3 s5 m5 s6 m7 s8), 3 new (s20 m20 t2), 4 gone (s2 m2 d2 t1); of the 30
    # people in the new set, the other 19 are untouched.
    assert applied["counts"]["staged"] == {"people": 15, "unchanged": 19}
    assert cli("sync", full.slug, churn, "--json", "--confirm", "--full").json["status"] == "applied"

    assert state(cli, narrowed.slug) == state(cli, full.slug)

    again = cli("sync", narrowed.slug, churn, "--json", "--full").json
    changes = {k: v for k, v in again["counts"].items() if k not in ("staged", "guard")}
    assert all(v == 0 for counts in changes.values() for v in counts.values()), changes


def test_a_contact_role_change_reaches_links_declared_by_unchanged_students(cli, db, tmp_path):
    district = make_district()
    cli("sync", district.slug, write_oneroster(tmp_path / "a", users=base_users(), orgs=ORGS), "--json")
    cli("sync", district.slug, write_oneroster(tmp_path / "b", users=churned_users(), orgs=ORGS), "--json",
        "--confirm")  # fmt: skip
    from schoolgate.people.models import Link

    link = Link.objects.get(district=district, contact__sis_code="d1")
    assert (link.relationship, link.portal_flag, link.flag_rule) == ("relative", False, "relatives-no-access")


def test_fingerprints_do_not_depend_on_how_they_are_computed(tmp_path, monkeypatch):
    """Relations and memberships split out of users.csv rows are grouped by line (cheaper than by code), and
    rows are hashed a slice at a time; a person's fingerprint must be the same either way, or every stored
    fingerprint would differ the day a set is grouped or sliced otherwise."""
    from schoolgate.sync import fingerprint
    from schoolgate.sync.readers import read_snapshot

    users = base_users()
    snapshot = read_snapshot(write_oneroster(tmp_path / "set", users=users, orgs=ORGS))
    assert not snapshot.errors, snapshot.errors
    assert fingerprint._split_from(snapshot.people, snapshot.relations)

    by_line = fingerprint.digests(snapshot)
    monkeypatch.setattr(fingerprint, "_split_from", lambda people, rows: False)
    monkeypatch.setattr(fingerprint, "ROW_HASH_SLICE", 4)  # and rows hashed a few at a time (for memory)
    by_code = fingerprint.digests(snapshot)

    assert by_line.get_column("code").to_list() == [u["sourcedId"] for u in users]  # in the set's order
    assert by_code.equals(by_line)
    assert by_line.get_column("digest").n_unique() == by_line.height  # distinct rows, distinct fingerprints


def test_fingerprints_are_those_the_district_stored(tmp_path):
    """A change to how fingerprints are computed makes every person of every district differ once: the next
    sync restages everyone and announces every account as changed to SCIM targets and webhooks. So it must
    be deliberate (a new SEED), never a side effect of a refactoring: these values were stored by earlier
    releases (polars as pinned by the lock file)."""
    from schoolgate.sync import fingerprint
    from schoolgate.sync.readers import read_snapshot

    snapshot = read_snapshot(write_oneroster(tmp_path / "set", users=base_users(), orgs=ORGS))
    assert fingerprint.SEED == 20261122
    assert fingerprint.digests(snapshot).head(3).rows() == [
        ("s0", 3591371830896667709),
        ("m0", 8081314816553704770),
        ("d0", 2175635678900128489),
    ]


def test_a_value_moved_to_another_field_changes_the_fingerprint(tmp_path):
    from schoolgate.sync import fingerprint
    from schoolgate.sync.readers import read_snapshot

    def digest(given: str, family: str) -> int:
        user = {"sourcedId": "m1", "role": "parent", "orgSourcedIds": "sch1"}
        folder = write_oneroster(tmp_path / f"{given}-{family}", users=[{**user, "givenName": given,
                                 "familyName": family}], orgs=ORGS)  # fmt: skip
        return fingerprint.digests(read_snapshot(folder)).get_column("digest")[0]

    assert digest("Ann", "Lee") != digest("Lee", "Ann")
    assert digest("Ann", "Lee") == digest("Ann", "Lee")


def test_a_set_whose_fingerprints_all_match_is_not_compared_person_by_person(cli, db, tmp_path, monkeypatch):
    """Nobody changed (here only a school's name did): one pass of counts and sums over the stored
    fingerprints decides it, without exporting them."""
    from schoolgate.sync import fingerprint

    district = make_district()
    cli("sync", district.slug, write_oneroster(tmp_path / "a", users=base_users(), orgs=ORGS), "--json")

    def export(*args, **kwargs):
        raise AssertionError("the stored fingerprints were exported")

    monkeypatch.setattr(fingerprint, "stored_digests", export)
    renamed = [{**ORGS[0], "name": "North High"}, ORGS[1]]
    again = cli("sync", district.slug, write_oneroster(tmp_path / "b", users=base_users(), orgs=renamed),
                "--json").json  # fmt: skip

    assert again["status"] == "applied", again
    assert again["counts"]["staged"] == {"people": 0, "unchanged": 31}


def test_one_changed_fingerprint_among_as_many_people_is_compared_and_found(cli, db, tmp_path, monkeypatch):
    from schoolgate.sync import fingerprint

    district = make_district()
    cli("sync", district.slug, write_oneroster(tmp_path / "a", users=base_users(), orgs=ORGS), "--json")
    exported = []
    export = fingerprint.stored_digests
    monkeypatch.setattr(fingerprint, "stored_digests", lambda *a: exported.append(1) or export(*a))
    users = base_users()
    users[1]["email"] = "changed@example.org"  # the same number of people, one of them changed

    again = cli("sync", district.slug, write_oneroster(tmp_path / "b", users=users, orgs=ORGS), "--json").json

    assert exported, "the sums differ: compared person by person"
    assert again["counts"]["staged"] == {"people": 1, "unchanged": 30}


def test_the_sums_are_exact_on_the_database_for_fingerprints_of_either_sign(db, tmp_path):
    """SQL and polars split each fingerprint into the same high and low halves, negative ones included."""
    import polars as pl
    from django.db import connection

    from schoolgate.people.models import Person
    from schoolgate.sync import fingerprint

    district = make_district()
    values = [-(2**63), -5_000_000_000, -1, 0, 1, 2**32, 2**63 - 1]
    Person.objects.bulk_create(
        Person(district=district, sis_code=f"p{i}", kind="contact", in_sis=True, sis_digest=value)
        for i, value in enumerate(values)
    )
    new = pl.DataFrame({"code": [f"p{i}" for i in range(len(values))], "digest": values[::-1]})
    with connection.cursor() as cursor:
        assert fingerprint._all_as_stored(cursor, district, new)
        changed = new.with_columns(pl.when(pl.col("digest") == 0).then(2).otherwise("digest").alias("digest"))
        assert not fingerprint._all_as_stored(cursor, district, changed)
        assert not fingerprint._all_as_stored(cursor, district, new.head(6)), "one person fewer"


def _found(result) -> tuple[list, list]:
    dirty, gone = result
    return sorted(dirty.rows()), sorted(gone.get_column("code").to_list())


def test_matching_by_fingerprint_finds_what_joining_the_codes_finds():
    """Unchanged, changed, new, gone, returning (no stored row: left the SIS) and in the SIS without a
    stored fingerprint: the look-up by fingerprint stages and retires exactly whom the join of codes does."""
    import polars as pl

    from schoolgate.sync import fingerprint

    stored = pl.DataFrame(
        {"code": ["same", "changed", "gone", "no-digest", "no-digest-gone"], "stored": [1, 2, 3, None, None]},
        schema={"code": pl.Utf8, "stored": pl.Int64},
    )
    new = pl.DataFrame(
        {"code": ["same", "changed", "new", "no-digest", "returning"], "digest": [1, 20, 4, 5, 6]}
    )

    found = _found(fingerprint._compare(new, stored))

    assert found == _found(fingerprint._by_code(new, stored))
    assert found == (
        [("changed", 20), ("new", 4), ("no-digest", 5), ("returning", 6)],
        ["gone", "no-digest-gone"],
    )


def test_two_people_whose_fingerprints_collide_are_told_apart_by_their_codes(monkeypatch):
    """A new person whose fingerprint equals the stored one of someone who left (a 64-bit collision) is not
    taken for them: the matched pairs' sums differ, and the codes are joined."""
    import polars as pl

    from schoolgate.sync import fingerprint

    stored = pl.DataFrame({"code": ["same", "left"], "stored": [1, 7]})
    new = pl.DataFrame({"code": ["same", "arrived"], "digest": [1, 7]})
    joined = []
    by_code = fingerprint._by_code
    monkeypatch.setattr(fingerprint, "_by_code", lambda *a: joined.append(1) or by_code(*a))

    assert _found(fingerprint._compare(new, stored)) == ([("arrived", 7)], ["left"])
    assert joined, "the codes were joined"
