"""The preview an admin approves names the usernames the job then gives, also when people of one stem fall in
different batches; a person the job will fail on is said to fail, and the report names existing logins."""

from __future__ import annotations

import dataclasses

from schoolgate.accounts import generation
from schoolgate.accounts.groups import define_group
from schoolgate.jobs import runner
from schoolgate.jobs.models import ItemStatus
from schoolgate.people.models import Person
from tests.builders import write_oneroster

ORGS = [{"sourcedId": "north", "type": "school"}]


def test_the_job_gives_the_usernames_the_preview_showed(cli, district, tmp_path, monkeypatch, settings):
    settings.SCHOOLGATE_REPORTS_DIR = tmp_path / "reports"
    # Created in this order (ids ascending), SIS codes in the opposite order: two Mary Smiths, one stem.
    staff = [("zz9", "Mary", "Smith"), ("mm5", "Mark", "Jones"), ("aa1", "Mary", "Smith"), ("bb2", "", "")]
    users = [{"sourcedId": code, "role": "teacher", "orgSourcedIds": "north", "givenName": given,
              "familyName": family} for code, given, family in staff]  # fmt: skip
    cli("sync", district.slug, write_oneroster(tmp_path / "set", users=users, orgs=ORGS), "--json")
    ids = dict(Person.objects.filter(district=district).values_list("sis_code", "pk"))
    assert ids["zz9"] < ids["aa1"], "the premise: created first, coded last"
    group = define_group(district, name="Staff", audience="staff", scheme="{first:1}{last}{counter}",
                         passwords="activation", actor="test")  # fmt: skip
    preview = {row.person: row for row in generation.preview(group)}
    assert [row.person for row in generation.preview(group)] == sorted(preview), "listed by SIS code"
    assert (preview["bb2"].account, preview["bb2"].username) == (generation.WILL_FAIL, None)
    assert "empty username" in preview["bb2"].detail

    kind = runner.KINDS[generation.KIND]
    monkeypatch.setitem(runner.KINDS, generation.KIND, dataclasses.replace(kind, batch_size=1))  # one a batch
    job = generation.start(group, actor="test")
    runner.run_job(job.pk)
    given = {item.person.sis_code: item for item in job.items.select_related("person")}
    for code in ("zz9", "aa1", "mm5"):
        assert (given[code].status, given[code].username) == (ItemStatus.CREATED, preview[code].username), (
            code
        )
    assert given["bb2"].status == ItemStatus.FAILED

    again = generation.start(group, actor="test")
    runner.run_job(again.pk)
    rows = {row[0]: row for row in generation.report(again).rows}
    assert rows["zz9"][2:4] == ["exists", preview["zz9"].username], "an existing login is named in the report"
