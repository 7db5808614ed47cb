"""The `next` URL after a login step is followed only while it stays on this site; otherwise the caller's
fallback is used (the portal's and the console's logins share the rule)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from schoolgate.core.redirects import safe_next

HOST = "testserver"


def asking(target: str, *, secure: bool = False):
    return RequestFactory().get("/login/", {"next": target}, secure=secure)


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""]
)
def test_off_site_or_missing_targets_give_the_fallback(target):
    assert safe_next(asking(target), "/home/") == "/home/"
    assert safe_next(asking(target), "/home/", path_only=True) == "/home/"


def test_a_path_on_this_site_is_followed_from_the_form_before_the_query_string():
    request = RequestFactory().post("/login/?next=/from-query/", {"next": "/o/authorize/?client_id=x"})
    assert safe_next(request) == "/o/authorize/?client_id=x"
    assert safe_next(asking("/console/")) == "/console/"


def test_path_only_refuses_an_absolute_url_to_this_host():
    assert safe_next(asking(f"http://{HOST}/console/"), "/home/") == f"http://{HOST}/console/"
    assert safe_next(asking(f"http://{HOST}/console/"), "/home/", path_only=True) == "/home/"


def test_a_secure_request_never_goes_back_to_http():
    assert safe_next(asking(f"http://{HOST}/x", secure=True), "/home/") == "/home/"
    assert safe_next(asking(f"https://{HOST}/x", secure=True), "/home/") == f"https://{HOST}/x"
