"""Property-based tests of the API against its own OpenAPI schema (schemathesis, in-process over WSGI).

For every operation, generated requests with a real token of a populated district must never cause a server
error (5xx), and every response must conform to the schema: a documented status code, its content type and
its body schema. Bounded (a few examples per operation, no deadline) so that the suite stays fast.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from schoolgate.admins import roles
from tests.api.conftest import EVERYTHING, populate, token_for
from tests.factories import make_district

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def keep_connection():
    """Calls go straight to the WSGI handler, whose request signals would close the database connection (and
    end the test's transaction on PostgreSQL); Django's own test client disconnects them the same way."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(cli, tmp_path, settings_fixture_reports, keep_connection) -> str:
    district = make_district("schemathesis", name="Schemathesis")
    populate(cli, district, tmp_path, "s")
    return token_for(district, EVERYTHING)


@pytest.fixture
def settings_fixture_reports(settings, tmp_path):
    settings.SCHOOLGATE_REPORTS_DIR = tmp_path / "reports"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]


@schema.parametrize()
@settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_the_api_conforms_to_its_schema(case, token):
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


def test_every_permission_in_the_schema_is_known():
    for methods in schema.raw_schema["paths"].values():
        for op in methods.values():
            assert op["x-permission"] == "any" or op["x-permission"] in roles.ALL
