"""`{% load durations %}` then `{{ delta|in_words }}`: a timedelta as "15 minutes" (see core/durations.py)."""

from __future__ import annotations

from datetime import timedelta

from django import template

from schoolgate.core.durations import in_words as _in_words

register = template.Library()


@register.filter
def in_words(delta: timedelta) -> str:
    """The filter form of `core.durations.in_words`, for templates handed a timedelta (django-axes's lockout
    page gets `cooloff_timedelta`; its `cooloff_time` is ISO 8601, "PT15M")."""
    return _in_words(delta)
