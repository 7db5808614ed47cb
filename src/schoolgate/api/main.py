"""The REST API: one NinjaAPI, its routers by area, and its error handlers.

Every operation declares the permission it needs (`auth.needs`); the API's default is a permission no level
has, so an operation that forgets fails closed. The schema is committed as openapi.yaml (`schoolgate openapi`).
"""

from __future__ import annotations

from ninja import NinjaAPI

from schoolgate.api import accounts, audit, districts, doctor, errors, jobs, people, sync
from schoolgate.api.auth import UNDECLARED, TokenAuth

api = NinjaAPI(
    title="Schoolgate API",
    version="1",
    description=(
        "Portal accounts of one school district, mirrored from its SIS: people, links and per-student access, "
        "the account lifecycle (ready_to_provision → invited → active → ready_to_revoke → revoked), sync runs, "
        "jobs, the account doctor and the audit log.\n\n"
        "Authenticate with a district token: `Authorization: Bearer sg_…` (`schoolgate token create SLUG "
        "--scope api`). Each operation names the permission it needs (`x-permission`); a token whose level "
        "lacks it gets 403. Everything is scoped to the token's district: another district's objects are 404, "
        'exactly like objects that do not exist. Every error is `{"error": {"code", "message", '
        '"detail"}}`. Lists are paged by an opaque `cursor`; pass `page.next` back to get the next page.'
    ),
    auth=TokenAuth(UNDECLARED),
    urls_namespace="api",
    docs_url=None,  # the interactive page loads scripts from a CDN, which the site's CSP forbids
)
errors.install(api)
for module in (districts, people, accounts, sync, jobs, doctor, audit):
    api.add_router("/", module.router)
