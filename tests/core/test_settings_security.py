"""Secure cookies: on whenever the site's address is https or it runs as in production (PostgreSQL, DEBUG
off), off for the embedded demo on plain http, and SCHOOLGATE_SECURE_COOKIES decides when it is set.

Settings are read once per process, so each case starts a fresh Python with only the variables it names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = (
    "import json, django; django.setup(); from django.conf import settings; "
    "print(json.dumps([settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE]))"
)
POSTGRES = "postgres://schoolgate:secret@127.0.0.1:5432/schoolgate"  # parsed only: never connected to


def cookies_secure(tmp_path, **variables: str) -> bool:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHOOLGATE_", "DJANGO_"))}
    env |= {"DJANGO_SETTINGS_MODULE": "schoolgate.settings", "SCHOOLGATE_VAR_DIR": str(tmp_path)}
    env |= {f"SCHOOLGATE_{name}": value for name, value in variables.items()}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    session, csrf = json.loads(out.stdout)
    assert session == csrf, "the CSRF cookie follows the session cookie"
    return session


@pytest.mark.parametrize(
    ("variables", "secure"),
    [
        ({}, False),  # the embedded demo: http://127.0.0.1:8000 and SQLite
        ({"BASE_URL": "http://127.0.0.1:8765"}, False),  # the demo on another port (scripts/demo.py)
        ({"BASE_URL": "https://portal.example.org"}, True),
        ({"BASE_URL": "HTTPS://portal.example.org/"}, True),
        ({"BASE_URL": "https://portal.example.org", "DEBUG": "true"}, True),  # served over https all the same
        ({"DATABASE_URL": POSTGRES}, True),  # production: PostgreSQL, DEBUG off
        ({"DATABASE_URL": POSTGRES, "DEBUG": "true"}, False),
        (
            {"BASE_URL": "https://portal.example.org", "SECURE_COOKIES": "false"},
            False,
        ),  # the explicit choice wins
        ({"DATABASE_URL": POSTGRES, "SECURE_COOKIES": "no"}, False),
        ({"SECURE_COOKIES": "true"}, True),
        ({"BASE_URL": "https://portal.example.org", "SECURE_COOKIES": ""}, True),  # empty, as in .env.example
        ({"SECURE_COOKIES": ""}, False),
    ],
)
def test_secure_cookies(tmp_path, variables, secure):
    assert cookies_secure(tmp_path, **variables) is secure
