"""Small inline SVG charts for the dashboard: no JavaScript, no library, readable by screen readers."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def day_columns(per_day: dict[date, int], days: int) -> list[tuple[str, int]]:
    today = timezone.localdate()
    return [
        ((today - timedelta(days=n)).strftime("%m-%d"), per_day.get(today - timedelta(days=n), 0))
        for n in range(days - 1, -1, -1)
    ]


def bar_chart(bars: list[tuple[str, int]], *, title: str, compact: bool = False) -> SafeString:
    """A horizontal-axis bar chart as an SVG string with a title and a text alternative."""
    width, height, pad = 640, 220, 30
    peak = max((v for _, v in bars), default=0) or 1
    slot = (width - 2 * pad) / max(len(bars), 1)
    parts = [
        f'<svg role="img" aria-labelledby="chart-{abs(hash(title))}" viewBox="0 0 {width} {height}" width="100%" '
        'xmlns="http://www.w3.org/2000/svg" class="chart">',
        f'<title id="chart-{abs(hash(title))}">{escape(title)}: '
        + escape(", ".join(f"{label} {value}" for label, value in bars))
        + "</title>",
    ]
    for i, (label, value) in enumerate(bars):
        h = (height - 2 * pad) * value / peak
        x = pad + i * slot
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{height - pad - h:.1f}" width="{max(slot - 4, 1):.1f}" height="{h:.1f}" fill="#0b4f8a"/>'
        )
        if not compact or i % 5 == 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{height - 10}" font-size="11" text-anchor="middle">{escape(label)}</text>'
            )
        if value and not compact:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{height - pad - h - 4:.1f}" font-size="11" text-anchor="middle">{value}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every label is escaped above; numbers are formatted
