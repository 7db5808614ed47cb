"""`schoolgate openapi`."""
