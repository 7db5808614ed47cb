"""`make demo` (scripts/demo.py): the e-mails it sends must link to the address the demo serves on."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"


@pytest.fixture(scope="module")
def demo():
    # scripts/ is not a package: load the file itself (importing it runs nothing but definitions).
    spec = importlib.util.spec_from_file_location("schoolgate_demo_script", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_links_follow_the_demo_address(demo):
    env = demo.demo_environment({"SCHOOLGATE_DEMO_ADDRESS": "127.0.0.1:8765", "PATH": "/bin"})
    assert env["SCHOOLGATE_BASE_URL"] == "http://127.0.0.1:8765"
    assert env["PATH"] == "/bin", "the rest of the environment is passed on unchanged"


def test_the_default_address_and_a_bare_port(demo):
    assert demo.demo_environment({})["SCHOOLGATE_BASE_URL"] == "http://127.0.0.1:8000"
    # runserver takes a bare port as "this machine, that port"; a link to http://8765 would go nowhere.
    assert demo.demo_address({"SCHOOLGATE_DEMO_ADDRESS": "8765"}) == "127.0.0.1:8765"
    assert demo.demo_environment({"SCHOOLGATE_DEMO_ADDRESS": "8765"})["SCHOOLGATE_BASE_URL"] == (
        "http://127.0.0.1:8765"
    )


def test_an_explicit_base_url_wins(demo):
    env = demo.demo_environment(
        {"SCHOOLGATE_DEMO_ADDRESS": "127.0.0.1:8765", "SCHOOLGATE_BASE_URL": "https://portal.example.org"}
    )
    assert env["SCHOOLGATE_BASE_URL"] == "https://portal.example.org"
    # Set but empty (as copied from .env.example) means "not chosen": the demo's address is used.
    empty = demo.demo_environment({"SCHOOLGATE_DEMO_ADDRESS": "127.0.0.1:8765", "SCHOOLGATE_BASE_URL": ""})
    assert empty["SCHOOLGATE_BASE_URL"] == "http://127.0.0.1:8765"


def test_the_demo_processes_build_links_from_it(demo, tmp_path):
    """The environment the demo hands its server and worker really is what Schoolgate's settings read."""
    parent = {k: v for k, v in os.environ.items() if k != "SCHOOLGATE_BASE_URL"}
    env = demo.demo_environment({**parent, "SCHOOLGATE_DEMO_ADDRESS": "127.0.0.1:8765"})
    env["SCHOOLGATE_VAR_DIR"] = str(tmp_path)
    env["DJANGO_SETTINGS_MODULE"] = "schoolgate.settings"
    probe = (
        "import django; django.setup(); from django.conf import settings; print(settings.SCHOOLGATE_BASE_URL)"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "http://127.0.0.1:8765"
