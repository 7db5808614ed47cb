"""`{% load passwords %}` then `{% min_password_length as n %}`: the shortest password the configured
validators (settings.AUTH_PASSWORD_VALIDATORS) accept, so that a page asking for a password states the rule
that will judge it instead of a number of its own that can drift from it."""

from __future__ import annotations

from django import template
from django.contrib.auth.password_validation import MinimumLengthValidator, get_default_password_validators

register = template.Library()


@register.simple_tag
def min_password_length() -> int | None:
    """The longest minimum of the configured length validators (the one that decides), or None without one."""
    lengths = [
        v.min_length for v in get_default_password_validators() if isinstance(v, MinimumLengthValidator)
    ]
    return max(lengths, default=None)
