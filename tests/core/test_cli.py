"""The command line on a database that was never migrated (a command run before `migrate`, or from another
folder, whose var/ gets a new SQLite file): a plain error, and with --json one JSON document, not a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_a_command_on_an_unmigrated_database_says_to_migrate(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"SCHOOLGATE_DATABASE_URL", "SCHOOLGATE_VAR_DIR"}}
    env["SCHOOLGATE_VAR_DIR"] = str(tmp_path / "var")
    ran = subprocess.run(
        [sys.executable, "-m", "schoolgate", "token", "create", "demo", "--name", "x", "--level", "support",
         "--scope", "scim", "--json"],
        env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 1, ran.stderr
    assert "Traceback" not in ran.stderr
    document = json.loads(ran.stdout)
    assert "run `schoolgate migrate` first" in document["error"]
    assert "schoolgate migrate" in ran.stderr


def test_json_before_or_after_a_sub_command(cli, district):
    for args in (("district", "--json", "list"), ("district", "list", "--json")):
        ran = cli(*args)
        assert ran.code == 0 and json.loads(ran.stdout)["districts"][0]["slug"] == district.slug, args
    assert not cli("district", "list").stdout.startswith("{"), "text without --json"


def test_a_usage_error_with_json_is_one_json_document_and_exit_2(cli, district):
    for args in (
        ("accounts", district.slug, "--state", "bogus", "--json"),
        ("provision", district.slug, "--json"),
        ("district", "--json", "nope"),
        ("override", "list", "--json"),
    ):
        ran = cli(*args)
        assert ran.code == 2, args
        document = json.loads(ran.stdout)
        assert document["usage"] is True and document["error"], args
        assert "usage:" in ran.stderr
    text = cli("accounts", district.slug, "--state", "bogus")
    assert text.code == 2 and text.stdout == "", "no JSON unless asked for"
