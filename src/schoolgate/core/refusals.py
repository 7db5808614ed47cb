"""How a domain function says no, and which kind of no it is.

Every entry point shows a refusal's message as it is (the console beside the form, the CLI on stderr). The
API also answers with a status, and that follows the kind of refusal, not the function that raised it, so
a client reads "transfer to nobody" and "override on a link that does not exist" alike:

* INVALID (422): the request itself is wrong whatever the data — no reason given, a field that does not
  exist, an expiry already past, a login moved to its own record;
* MISSING (404): it names something this district does not have — a person, a link, an override, a
  finding the diagnosis did not make;
* CONFLICT (409, the default): a sound request that the data's present state refuses — no login to move,
  an override already removed.
"""

from __future__ import annotations

INVALID, MISSING, CONFLICT = "invalid", "missing", "conflict"


class Refused(ValueError):
    """A domain refusal; `kind` is one of INVALID, MISSING, CONFLICT."""

    kind = CONFLICT

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            if kind not in (INVALID, MISSING, CONFLICT):
                raise ValueError(f"unknown kind of refusal {kind!r}")
            self.kind = kind
