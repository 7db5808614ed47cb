"""The REST API under /api/v1/ (issue 7)."""
