"""Fixtures for tests that run Schoolgate in separate processes against a real database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Processes:
    """Run (or start) a command with the test database's environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(args, env=self.env, capture_output=True, text=True, check=False)

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(args, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def schoolgate(self, *args: str) -> subprocess.CompletedProcess:
        return self(sys.executable, "-m", "schoolgate", *args)


@pytest.fixture
def database(tmp_path):
    """A fresh, migrated database of the same engine the suite runs on, outside the test transaction."""
    env = {**os.environ, "SCHOOLGATE_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT)}
    url = os.environ.get("SCHOOLGATE_DATABASE_URL")
    name = None
    if url:
        import psycopg

        name = f"sg_crash_{uuid.uuid4().hex[:8]}"
        base = url.rsplit("/", 1)[0]
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        env["SCHOOLGATE_DATABASE_URL"] = f"{base}/{name}"
    run = Processes(env)
    assert run(sys.executable, "-m", "schoolgate", "migrate", "-v0").returncode == 0
    yield run
    if name:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
