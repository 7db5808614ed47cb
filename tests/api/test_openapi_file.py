"""The committed openapi.yaml is the schema the code generates: `make test` fails when it is stale."""

from __future__ import annotations

import yaml

from schoolgate.api.schema_file import SCHEMA_FILE, is_current, render


def test_the_committed_schema_is_current():
    assert is_current(), "openapi.yaml is stale: run `schoolgate openapi` and commit the file"


def test_the_schema_is_openapi_3_and_documents_every_error(cli):
    schema = yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["TokenAuth"] == {"type": "http", "scheme": "bearer"}
    for path, methods in schema["paths"].items():
        assert path.startswith("/api/v1/")
        for op in methods.values():
            assert {"401", "403", "404", "422", "500"} <= set(op["responses"]), path
            assert op["x-permission"], path


def test_the_openapi_command_writes_and_checks(cli, tmp_path):
    target = tmp_path / "openapi.yaml"
    stale = cli("openapi", "--check", "--output", target, "--json")
    assert stale.code == 1 and "stale" in stale.json["error"]
    written = cli("openapi", "--output", target, "--json")
    assert written.code == 0 and target.read_text(encoding="utf-8") == render()
    assert cli("openapi", "--check", "--output", target, "--json").json == {
        "path": str(target),
        "current": True,
    }
    target.write_text(render().replace("Schoolgate API", "Changed"), encoding="utf-8")
    assert cli("openapi", "--check", "--output", target).code == 1
