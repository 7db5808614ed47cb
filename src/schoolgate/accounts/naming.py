"""Naming schemes: the small template language an account group uses to generate usernames.

A scheme is literal text and fields in braces, for example ``{first}.{last}`` or ``{first:1}{last}{counter}``:

- Fields: ``{first}`` (the preferred given name when there is one, else the given name), ``{given}``,
  ``{middle}``, ``{last}``, ``{email}`` (the whole address), ``{email_local}`` (the part before the "@"),
  ``{code}`` (the SIS code) and ``{grade}`` (the first grade the SIS lists).
- ``{field:N}`` keeps the first N characters of the field's rendered value (after transliteration).
- ``{counter}`` marks where the disambiguating number goes, ``{counter:N}`` zero-pads it to N digits. It must
  come last, so a username is always its *stem* followed by its number: the stem is then a prefix of every
  username in its series, which is what the counter rows and the (district, key) index are searched by.
- Literal text may hold letters, digits, ".", "_" and "-" (letters are lower-cased).

Rendering (`Scheme.render`) turns a person into the *stem*, the username without its number:

- Every field is transliterated to ASCII with anyascii (é→e, ß→ss, Łódź→lodz, 王→wang, Дмитрий→dmitriy) and
  lower-cased.
- Name fields (first, given, middle, last) keep only a-z and 0-9: apostrophes, spaces, hyphens and dots inside
  a name are dropped ("O'Brien"→"obrien", "Mary-Jane"→"maryjane", "van der Berg"→"vanderberg"). Separators
  are the template's business; a hyphen from one name would otherwise make ``{first}.{last}`` give
  usernames with mixed separators that people mistype.
- ``{code}``, ``{grade}`` and ``{email_local}`` also keep ".", "_" and "-"; ``{email_local}`` and ``{email}``
  keep "+", and ``{email}`` keeps "@": those fields are identifiers whose punctuation is part of the value.
- Runs of separators (".", "_", "-") collapse to their first character and separators are stripped from both
  ends, so ``{first}.{middle}.{last}`` gives "ana.lima", never "ana..lima", when there is no middle name.
- A person for whom every field of the scheme is empty gets `EmptyUsername`, not a username of punctuation.

Counter semantics (`Scheme.compose`): numbers start at 1 for every stem. Without ``{counter}`` number 1 is
the bare stem and later holders get the stem followed by 2, 3, … (jsmith, jsmith2, jsmith3); with
``{counter}`` the number always appears, starting at 1 (jsmith1, jsmith2; ``{counter:2}``: jsmith01).

Maximum length: ``render(..., max_length=30)`` cuts the stem so that it and the smallest number it can carry
fit (``{counter:2}`` reserves 2 characters, ``{counter}`` 1, no counter none, because the first holder gets
the bare stem). The number is never cut: when a larger number is handed out, `compose` cuts the stem further
so stem + number still fits ("alexandria.smith9" → "alexandria.smit10" at 17 characters).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from anyascii import anyascii

from schoolgate.accounts.usernames import MAX_LENGTH

FIELDS = ("first", "given", "middle", "last", "email", "email_local", "code", "grade")
COUNTER = "counter"
SEPARATORS = "._-"
MAX_COUNTER_WIDTH = 9  # wider numbers than a billion holders of one stem serve no one

# The Person model fields a scheme reads: `Scheme.render` takes a mapping with these keys.
PERSON_FIELDS = (
    "given_name",
    "preferred_given_name",
    "middle_name",
    "family_name",
    "email",
    "sis_code",
    "grades",
)

# What each field keeps after transliteration and lower-casing.
_DROP = {
    "name": re.compile(r"[^a-z0-9]+"),
    "code": re.compile(r"[^a-z0-9._-]+"),
    "email_local": re.compile(r"[^a-z0-9._+-]+"),
    "email": re.compile(r"[^a-z0-9._+@-]+"),
}
_MODEL_FIELD = {"given": "given_name", "middle": "middle_name", "last": "family_name", "code": "sis_code"}
_KIND = {"code": "code", "grade": "code", "email_local": "email_local", "email": "email"}
_SEPARATOR_RUN = re.compile(r"([._-])[._-]+")
_LITERAL_OK = re.compile(r"[a-z0-9._-]")


class InvalidScheme(ValueError):
    """The template cannot be compiled; the message names the position (1-based) and the problem."""

    def __init__(self, problem: str, position: int | None = None) -> None:
        self.problem = problem
        self.position = position
        super().__init__(problem if position is None else f"position {position}: {problem}")


class EmptyUsername(ValueError):
    """The scheme gives this person an empty username (every field it uses is empty for them)."""


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass(frozen=True)
class Field:
    name: str
    length: int | None  # {name:N}: keep the first N characters


@dataclass(frozen=True)
class Scheme:
    """A compiled naming scheme. Build it with `compile_scheme`."""

    template: str
    parts: tuple[Literal | Field, ...]  # the stem's parts, without the counter and its separator
    has_counter: bool
    counter_width: int  # zero-padding of {counter:N}; 0 when unpadded or without a counter
    counter_separator: str  # separators written just before {counter} ("." in "{first}.{last}.{counter}")
    fields: frozenset[str]  # the person fields the scheme reads

    def reserve(self) -> int:
        """Characters the smallest number takes after the stem (the separator is part of the stem)."""
        return max(self.counter_width, 1) if self.has_counter else 0

    def render(self, person_fields: Mapping[str, str], max_length: int | None = None) -> str:
        """The stem for one person: the username without its number (see the module docstring).

        `person_fields` holds the person's model fields by name (`PERSON_FIELDS`; missing keys count as
        empty). With `max_length` the stem is cut so that it and the smallest number fit. Raises
        `EmptyUsername` when the scheme gives this person nothing.
        """
        values = field_values(person_fields, self.fields)
        pieces = []
        for part in self.parts:
            if isinstance(part, Literal):
                pieces.append(part.text)
            else:
                value = values[part.name]
                pieces.append(value if part.length is None else value[: part.length])
        body = _tidy("".join(pieces))
        if not body:
            used = " and ".join(f"{{{name}}}" for name in FIELDS if name in self.fields)
            raise EmptyUsername(
                f"the naming scheme {self.template} gives this person an empty username ({used}: nothing usable)"
            )
        if max_length is not None:
            room = max_length - len(self.counter_separator) - self.reserve()
            if room < 1:
                raise ValueError(
                    f"a maximum length of {max_length} leaves no room for a name in {self.template}"
                )
            body = body[:room].rstrip(SEPARATORS)
        return body + self.counter_separator

    def compose(self, stem: str, number: int, max_length: int | None = None) -> str | None:
        """The username holding `number` in the series of `stem` (as `render` returned it).

        Without a counter number 1 is the bare stem and n ≥ 2 is appended; with one, the number (zero-padded
        to the counter's width) always is. When stem + number would exceed `max_length` the stem is cut, never
        the number; None when not even one character of the stem would remain.
        """
        if number < 1:
            raise ValueError("username numbers start at 1")
        if self.has_counter:
            digits = str(number).zfill(self.counter_width)
        else:
            digits = "" if number == 1 else str(number)
        if max_length is None or len(stem) + len(digits) <= max_length:
            return stem + digits
        body = stem[: len(stem) - len(self.counter_separator)] if self.counter_separator else stem
        body = body[: max(max_length - len(self.counter_separator) - len(digits), 0)].rstrip(SEPARATORS)
        return body + self.counter_separator + digits if body else None


def field_values(person_fields: Mapping[str, str], names: Iterable[str] = FIELDS) -> dict[str, str]:
    """Scheme fields' rendered values for one person (transliterated, lower-cased, filtered)."""
    return {name: _clean(name, _raw(person_fields, name)) for name in names}


def _raw(person: Mapping[str, str], name: str) -> str:
    if name == "first":
        return (person.get("preferred_given_name") or "").strip() or person.get("given_name") or ""
    if name in ("email", "email_local"):
        email = (person.get("email") or "").strip()
        return email.rpartition("@")[0] if name == "email_local" and "@" in email else email
    if name == "grade":
        return (person.get("grades") or "").split(",")[0]
    return person.get(_MODEL_FIELD[name]) or ""


def _clean(name: str, value: str) -> str:
    if not value:
        return ""
    kind = _KIND.get(name, "name")
    return _DROP[kind].sub("", anyascii(value).lower())


def _tidy(text: str) -> str:
    """Collapse runs of separators to their first character and strip separators from both ends."""
    return _SEPARATOR_RUN.sub(r"\1", text).strip(SEPARATORS)


def compile_scheme(template: str) -> Scheme:
    """Parse a naming scheme, or raise `InvalidScheme` naming the (1-based) position and the problem."""
    if not template:
        raise InvalidScheme("the naming scheme is empty")
    parts: list[Literal | Field] = []
    literal: list[str] = []
    counter_at: int | None = None
    counter_width = 0
    i = 0
    while i < len(template):
        char = template[i]
        if char == "}":
            raise InvalidScheme('"}" without a matching "{"', i + 1)
        if char != "{":
            if not _LITERAL_OK.fullmatch(char.lower()) or not char.isascii():
                raise InvalidScheme(
                    f'{char!r} is not allowed in literal text (use letters, digits, ".", "_" or "-")', i + 1
                )
            if counter_at is not None:
                raise InvalidScheme("{counter} must come last in the scheme", counter_at)
            literal.append(char.lower())
            i += 1
            continue
        end = _closing_brace(template, i)
        name, colon, modifier = template[i + 1 : end].partition(":")
        if not name:
            raise InvalidScheme("a field has no name (write e.g. {first})", i + 1)
        if name != COUNTER and name not in FIELDS:
            known = ", ".join(f"{{{f}}}" for f in (*FIELDS, COUNTER))
            raise InvalidScheme(f"unknown field {{{name}}}; known fields are {known}", i + 1)
        number = _modifier(name, colon, modifier, i + 1)
        if counter_at is not None:
            problem = (
                "{counter} appears twice" if name == COUNTER else "{counter} must come last in the scheme"
            )
            raise InvalidScheme(problem, i + 1 if name == COUNTER else counter_at)
        if literal:
            parts.append(Literal("".join(literal)))
            literal = []
        if name == COUNTER:
            counter_at, counter_width = i + 1, number or 0
        else:
            parts.append(Field(name, number))
        i = end + 1
    if literal:
        parts.append(Literal("".join(literal)))
    if not any(isinstance(part, Field) for part in parts):
        raise InvalidScheme("the naming scheme uses no person field (such as {first} or {last})")
    separator = ""
    if counter_at is not None and isinstance(parts[-1], Literal):
        # The separators just before {counter} belong to the number ("smith.1"): the stem keeps them even
        # though a stem's own trailing separators are stripped.
        text = parts.pop().text
        kept = text.rstrip(SEPARATORS)
        separator = text[len(kept) :][:1]  # a run collapses to its first character, as anywhere else
        if kept:
            parts.append(Literal(kept))
    return Scheme(
        template=template,
        parts=tuple(parts),
        has_counter=counter_at is not None,
        counter_width=counter_width,
        counter_separator=separator,
        fields=frozenset(part.name for part in parts if isinstance(part, Field)),
    )


def _closing_brace(template: str, start: int) -> int:
    for j in range(start + 1, len(template)):
        if template[j] == "}":
            return j
        if template[j] == "{":
            raise InvalidScheme(f'"{{" inside the field opened at position {start + 1}', j + 1)
    raise InvalidScheme('"{" is never closed', start + 1)


def _modifier(name: str, colon: str, modifier: str, position: int) -> int | None:
    """The number after the colon: a length for a field, a width for the counter."""
    if not colon:
        return None
    limit = MAX_COUNTER_WIDTH if name == COUNTER else MAX_LENGTH
    what = "a width in digits" if name == COUNTER else "a number of characters"
    if not modifier.isascii() or not modifier.isdigit() or not 1 <= int(modifier) <= limit:
        raise InvalidScheme(
            f"bad modifier {modifier!r} in {{{name}:{modifier}}}: expected {what} from 1 to {limit}", position
        )
    return int(modifier)
