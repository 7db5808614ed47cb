"""The operator's health page: a district whose SIS uploads keep being rejected is flagged, not reported OK.

Rejected runs (files the readers refused) count with failed ones, and a district whose most recent sync was
rejected or failed needs attention: its SIS data is not getting through. One bad file since replaced by a good
one is counted for the week but is not a problem now."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.builders import write_oneroster
from tests.factories import log_in_admin, make_admin, make_district

ORGS = [{"sourcedId": "north", "type": "school"}]
COUNT = "Failed or rejected syncs (7 days)"


def families(ghost: bool = False) -> list[dict]:
    return [
        {"sourcedId": "k0", "role": "student", "orgSourcedIds": "north",
         "agentSourcedIds": "p0, ghost" if ghost else "p0"},
        {"sourcedId": "p0", "role": "parent", "orgSourcedIds": "north", "email": "p0@example.org"},
    ]  # fmt: skip


def health_table(page: str) -> dict[str, dict[str, str]]:
    """Each district's row as {column heading: cell text}."""
    headings = re.findall(r'<th scope="col">(.*?)</th>', page.split("</thead>")[0])
    table = {}
    for slug, row in re.findall(r'<tr data-district="([^"]+)">(.*?)</tr>', page, re.S):
        cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        table[slug] = dict(zip(headings, cells, strict=True))
    return table


@pytest.fixture
def operator(client, db):
    log_in_admin(client, make_admin(None, "olga@example.org", operator=True))
    return client


def test_a_district_whose_uploads_keep_being_rejected_needs_attention(operator, cli, tmp_path):
    good = write_oneroster(tmp_path / "good", users=families(), orgs=ORGS)
    bad = write_oneroster(tmp_path / "bad", users=families(ghost=True), orgs=ORGS)
    for slug, files in (("stuck", (good, bad, bad)), ("recovered", (bad, good)), ("calm", (good,))):
        make_admin(make_district(slug, name=slug.title()), f"primary-{slug}@example.org")
        statuses = [cli("sync", slug, path, "--json").json["status"] for path in files]
        assert statuses[-1] == ("rejected" if slug == "stuck" else "applied"), statuses

    table = health_table(operator.get(reverse("console:operator")).content.decode())
    assert table["stuck"]["Health"] == "Needs attention", "every upload since the first was rejected"
    assert table["stuck"][COUNT] == "2"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d \(rejected\)", table["stuck"]["Last sync"]), (
        "when, and how it ended"
    )
    assert (table["recovered"][COUNT], table["recovered"]["Health"]) == ("1", "OK"), (
        "fixed by the next upload"
    )
    assert table["recovered"]["Last sync"].endswith("(applied)")
    assert (table["calm"][COUNT], table["calm"]["Health"]) == ("0", "OK")
