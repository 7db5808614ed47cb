"""The SCIM 2.0 server under /scim/v2/<district>/ (issue 7)."""
