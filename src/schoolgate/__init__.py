"""Schoolgate: account lifecycle for school community portals."""

__version__ = "0.1.0"
