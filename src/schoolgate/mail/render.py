"""Rendering a message: the district's override or the built-in template, inside the branded layout.

    render(district, "welcome", {"person_name": …, "activation_url": …}) -> Rendered(subject, text, html)

Each part (subject, text, HTML) comes from the first level that has it: the district's `MailTemplate` row, the
platform row (district NULL), then the built-in file `templates/mail/<key>.subject.txt`, `<key>.txt`,
`<key>.html`. The body is then put inside `layout.txt` / `layout.html`, which carry the district's name, logo
and reply address, so every message shows them whatever an override says.

HTML is autoescaped; the subject and text are not (they are not HTML). The subject is folded onto one line,
so a value with a line break cannot add a header.

Speed: compiling is most of the cost of a Django template, so compiled templates are kept per (district,
key, versions of the two override rows) in a small LRU, and the branding per (district, its version); an
edited override or branding has a new `updated_at` and so a new entry, in every process. Each render costs
one small indexed query (those versions) and the template rendering itself.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.template import Context, Engine, Template
from django.utils.safestring import mark_safe

from schoolgate.core.models import District
from schoolgate.mail.models import MailBranding, MailTemplate

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "mail"
BUILT_IN_KEYS = (
    "welcome", "password_reset", "username_reminder",
    "admin_invitation", "admin_access_changed", "admin_change_confirmation", "primary_change",
)  # fmt: skip
# The Content-ID the layout's <img> points at; the sender attaches the district's logo under it.
LOGO_CID = "district-logo@schoolgate"
CACHE_SIZE = 256

# A password must never travel by e-mail: refuse a context that even carries one, rather than trusting every
# template (including districts' overrides) not to print it.
_FORBIDDEN_KEY = re.compile(r"passw(or)?d|pwd", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")

# No loaders and no libraries: a template sees only its context (overrides are written by district admins).
_ENGINE = Engine(loaders=[], libraries={}, debug=False)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Branding:
    """What templates see as `branding`."""

    name: str  # the sender name: the district's own choice, or its name
    district: str
    reply_to: str
    logo_src: str  # "cid:…" when the district has a logo, else ""


class UnknownTemplate(LookupError):
    """Neither an override nor a built-in template exists for this key."""


def compile_part(source: str) -> Template:
    """One part compiled with the mail engine (also used to validate overrides)."""
    return _ENGINE.from_string(source)


@dataclass(frozen=True)
class _Compiled:
    subject: Template
    text: Template
    html: Template


_cache: OrderedDict[tuple, Any] = OrderedDict()
_cache_lock = threading.Lock()


def render(district: District, key: str, context: dict[str, Any]) -> Rendered:
    """The subject, plain text and HTML of message `key` for `district` with `context`."""
    for name in context:
        if _FORBIDDEN_KEY.search(name):
            raise ValueError(f"mail context key {name!r}: passwords are never sent by e-mail")
    templates, branding_version = _versions(district, key)
    compiled = _compiled(district, key, templates)
    branding = _branding(district, branding_version)
    values = {
        **context,
        "district": district.name,
        "branding": branding,
        "portal_url": settings.SCHOOLGATE_BASE_URL + "/",
    }

    plain = Context(values, autoescape=False)
    subject = " ".join(compiled.subject.render(plain).split())
    text_body = compiled.text.render(plain).strip()
    with plain.push(body=text_body, subject=subject):
        text = _BLANK_LINES.sub("\n\n", _layout("txt").render(plain)).strip() + "\n"

    escaped = Context(values, autoescape=True)
    html_body = compiled.html.render(escaped).strip()
    # The body was escaped as it was rendered; the layout must not escape it again.
    with escaped.push(body=mark_safe(html_body), subject=subject):  # noqa: S308
        html = _layout("html").render(escaped)
    return Rendered(subject=subject, text=text, html=html)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _versions(district: District, key: str) -> tuple[dict[int | None, tuple], object]:
    """The versions of the override rows for `key` (district's and platform's) and of the branding.

    One raw query: building these through the ORM cost more than rendering the message itself.
    """
    qn = connection.ops.quote_name
    template_table, branding_table = qn(MailTemplate._meta.db_table), qn(MailBranding._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 0, id, district_id, updated_at FROM {template_table}"
            f" WHERE {qn('key')} = %s AND (district_id = %s OR district_id IS NULL)"
            f" UNION ALL SELECT 1, id, district_id, updated_at FROM {branding_table} WHERE district_id = %s",
            [key, district.pk, district.pk],
        )
        rows = cursor.fetchall()
    templates = {district_id: (pk, updated_at) for kind, pk, district_id, updated_at in rows if kind == 0}
    branding = next(((pk, updated_at) for kind, pk, _, updated_at in rows if kind == 1), None)
    return templates, branding


def _branding(district: District, version: object) -> Branding:
    cache_key = ("branding", district.pk, district.name, version)
    with _cache_lock:
        found = _cache.get(cache_key)
    if found is not None:
        return found
    row = (
        MailBranding.objects.filter(district=district)
        .values_list("sender_name", "reply_to", "logo_content_type")
        .first()
    )
    sender_name, reply_to, logo_type = row or ("", "", "")
    branding = Branding(
        name=sender_name.strip() or district.name,
        district=district.name,
        reply_to=reply_to,
        logo_src=f"cid:{LOGO_CID}" if logo_type else "",
    )
    _remember(cache_key, branding)
    return branding


def _compiled(district: District, key: str, rows: dict[int | None, tuple]) -> _Compiled:
    cache_key = (district.pk, key, rows.get(district.pk), rows.get(None))
    with _cache_lock:
        found = _cache.get(cache_key)
        if found is not None:
            _cache.move_to_end(cache_key)
            return found
    compiled = _compile(district, key, rows)
    _remember(cache_key, compiled)
    return compiled


def _remember(cache_key: tuple, value: object) -> None:
    with _cache_lock:
        _cache[cache_key] = value
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)


def _compile(district: District, key: str, rows: dict) -> _Compiled:
    overrides = {
        row.district_id: row for row in MailTemplate.objects.filter(pk__in=[pk for pk, _ in rows.values()])
    }
    levels = [overrides.get(district.pk), overrides.get(None)]
    parts = {}
    for field, suffix in (("subject", "subject.txt"), ("text_body", "txt"), ("html_body", "html")):
        source = next((getattr(row, field) for row in levels if row and getattr(row, field).strip()), None)
        parts[field] = compile_part(source) if source is not None else _built_in(key, suffix)
    return _Compiled(subject=parts["subject"], text=parts["text_body"], html=parts["html_body"])


@cache
def _built_in(key: str, suffix: str) -> Template:
    if not re.fullmatch(r"[a-z0-9_-]+", key):
        raise UnknownTemplate(f"no mail template {key!r}")
    path = TEMPLATE_DIR / f"{key}.{suffix}"
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnknownTemplate(
            f"no mail template {key!r}: no override and no built-in {path.name} "
            f"(built-in keys: {', '.join(BUILT_IN_KEYS)})"
        ) from None
    return compile_part(source)


@cache
def _layout(suffix: str) -> Template:
    return compile_part((TEMPLATE_DIR / f"layout.{suffix}").read_text(encoding="utf-8"))
