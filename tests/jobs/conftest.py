"""Fixtures for job tests: the separate-process database fixture the sync crash tests use."""

from tests.sync.conftest import database  # noqa: F401
