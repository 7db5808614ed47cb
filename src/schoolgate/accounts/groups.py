"""Defining an account group: the one door for `schoolgate group add` and the console's Generate page.

A group names an audience (optionally narrowed to schools and grades), where usernames come from (the naming
scheme's language is in `naming.py`) and the password policy. Every field is checked before anything is
written, and every wrong one is reported at once, by name: the console shows each message beside its field,
the command line the first. A group that is defined is audited as `group.added`, like other configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, transaction

from schoolgate.accounts.models import AccountGroup, PasswordMode, UsernameSource
from schoolgate.accounts.naming import InvalidScheme, compile_scheme
from schoolgate.core import audit
from schoolgate.core.models import District, School

AUDIENCES = ("contact", "student", "staff")
DEFAULT_SCHEME = "{first}.{last}"
DEFAULT_MAX_LENGTH = 30
DEFAULT_MIN_LENGTH = 10
# Bounds the command line has always enforced: a username shorter than 3 characters is a clash waiting to
# happen, and 150 is the username column; 8 is the least Django's validators accept as a password length.
MAX_LENGTH_RANGE = (3, 150)
MIN_LENGTH_RANGE = (8, 128)
# The model's column widths: PostgreSQL refuses a longer value (SQLite would store it), so refuse it here.
NAME_WIDTH = AccountGroup._meta.get_field("name").max_length
SCHEME_WIDTH = AccountGroup._meta.get_field("naming_scheme").max_length


class GroupRejected(ValueError):
    """The group cannot be defined as asked; nothing was changed.

    `errors` maps each wrong field (the keyword of `define_group`) to what is wrong with it, in the order the
    fields are checked; `field` and `message` are the first of them.
    """

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        self.field, self.message = next(iter(self.errors.items()))
        super().__init__(f"{self.field}: {self.message}")


def describe(group: AccountGroup) -> dict[str, Any]:
    """A group as the command line prints it and the audit log records it."""
    return {
        "name": group.name, "audience": group.audience, "schools": group.school_codes, "grades": group.grades,
        "usernames": group.username_source, "scheme": group.naming_scheme, "max_length": group.username_max_length,
        "passwords": group.password_mode, "must_change": group.must_change_password,
        "min_length": group.min_password_length,
    }  # fmt: skip


def _once(values: Iterable[str]) -> list[str]:
    """The values trimmed, without blanks, each once, in the order given."""
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def _name_error(name: str) -> str | None:
    if not name:
        return "the group needs a name"
    return f"the name is longer than {NAME_WIDTH} characters" if len(name) > NAME_WIDTH else None


def _one_of(value: str, allowed: Sequence[str]) -> str | None:
    return None if value in allowed else f"{value!r} is not one of {', '.join(allowed)}"


def _between(value: int, bounds: tuple[int, int]) -> str | None:
    low, high = bounds
    return None if low <= value <= high else f"must be between {low} and {high}"


def _schools_error(district: District, codes: list[str], allowed: Sequence[str] | None) -> str | None:
    # Codes are looked up in this district only, so another district's school is as unknown as a typo.
    known = set(
        School.objects.filter(district=district, sis_code__in=codes).values_list("sis_code", flat=True)
    )
    unknown = [code for code in codes if code not in known]
    if unknown:
        return f"no school {', '.join(map(repr, unknown))} in {district.name}"
    if allowed is None:
        return None
    # No schools means every school: a school-limited admin would reach other schools' people.
    if not codes:
        return f"choose at least one of your schools ({', '.join(allowed)})"
    outside = [code for code in codes if code not in allowed]
    if outside:
        return f"school {', '.join(map(repr, outside))} is not one of yours ({', '.join(allowed)})"
    return None


def _scheme_error(scheme: str, usernames: str, max_length: int | None) -> str | None:
    if len(scheme) > SCHEME_WIDTH:
        return f"the scheme is longer than {SCHEME_WIDTH} characters"
    # Only a scheme that makes usernames is compiled: the command line has always stored the (default)
    # scheme of a group whose usernames come from the SIS or the person unchecked.
    if usernames == UsernameSource.SCHEME:
        try:
            compiled = compile_scheme(scheme)
        except InvalidScheme as exc:
            return str(exc)
        # The longest number the scheme reserves, with its separator, must leave a name at least one letter
        # long: otherwise every person of the group fails at generation (found then, not here, it was a crash).
        room = (
            None if max_length is None else max_length - len(compiled.counter_separator) - compiled.reserve()
        )
        if room is not None and room < 1:
            return (
                f"a maximum length of {max_length} leaves no room for a name in {scheme} (its number needs "
                f"{max_length - room}); allow longer usernames or a shorter number"
            )
    return None


def _passwords_error(passwords: str, usernames: str) -> str | None:
    # A generated password is handed out with its username; someone who is to choose their username at
    # activation has none yet, so there would be nothing to hand out (generation failed on every account).
    if passwords == PasswordMode.GENERATED and usernames == UsernameSource.CHOSEN:
        return "generated passwords need a username to go with them: usernames from the scheme or the SIS"
    return None


def define_group(
    district: District,
    *,
    name: str,
    audience: str,
    schools: Sequence[str] = (),
    grades: Sequence[str] = (),
    usernames: str = UsernameSource.SCHEME,
    scheme: str = DEFAULT_SCHEME,
    max_length: int = DEFAULT_MAX_LENGTH,
    passwords: str = PasswordMode.ACTIVATION,
    must_change: bool = True,
    min_length: int = DEFAULT_MIN_LENGTH,
    actor: str,
    allowed_schools: Sequence[str] | None = None,
) -> AccountGroup:
    """Define a group of `district`, audited; `GroupRejected` names every wrong field and nothing is written.

    `schools` are SIS codes of the district's schools (none: every school); `grades` are stored as given,
    trimmed. `allowed_schools` is for a school-limited admin: the group must then name schools, all of them
    theirs.
    """
    name, codes, grades = name.strip(), _once(schools), _once(grades)
    errors: dict[str, str | None] = {
        "name": _name_error(name),
        "audience": _one_of(audience, AUDIENCES),
        "schools": _schools_error(district, codes, allowed_schools),
        # A person's grades are stored comma-separated, so a grade holding a comma would match no one.
        "grades": next((f"grade {g!r} holds a comma: give one grade per value" for g in grades if "," in g), None),
        "usernames": _one_of(usernames, UsernameSource.values),
        # Checked in the order the command line always has, which reports the first only.
        "max_length": _between(max_length, MAX_LENGTH_RANGE),
        "min_length": _between(min_length, MIN_LENGTH_RANGE),
        # (The room a scheme leaves is judged only against a maximum length that is itself allowed.)
        "scheme": _scheme_error(scheme, usernames, None if _between(max_length, MAX_LENGTH_RANGE) else max_length),
        "passwords": _one_of(passwords, PasswordMode.values) or _passwords_error(passwords, usernames),
    }  # fmt: skip
    duplicate = f"a group {name!r} already exists in this district"
    if errors["name"] is None:
        del errors["name"]  # a duplicate comes last: the command line always found it only on inserting
        if AccountGroup.objects.filter(district=district, name=name).exists():
            errors["name"] = duplicate
    wrong = {field: message for field, message in errors.items() if message}
    if wrong:
        raise GroupRejected(wrong)
    try:
        with transaction.atomic():
            group = AccountGroup.objects.create(
                district=district, name=name, audience=audience, school_codes=codes, grades=grades,
                username_source=usernames, naming_scheme=scheme, username_max_length=max_length,
                password_mode=passwords, must_change_password=must_change, min_password_length=min_length,
            )  # fmt: skip
            audit.record(district, actor, "group.added", target_type="account_group", target_id=group.pk,
                         target_label=name, after=describe(group))  # fmt: skip
    except IntegrityError:  # defined by someone else between the check above and this insert
        raise GroupRejected({"name": duplicate}) from None
    return group
