"""Job reports: a CSV and a PDF of every item (success or failure, with the reason).

Files go to SCHOOLGATE_REPORTS_DIR/<district>/job-<id>.{csv,pdf}, and for a job that ends more than once
(cancelled or failed, then resumed) job-<id>-<n>.{csv,pdf} for its n-th ending: each ending's report stays
as it was announced, since a cancelled generation job's report may be where its first passwords were handed
out. CSV cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR) are neutralised
with a leading apostrophe. The PDF uses the bundled DejaVu Sans (Latin, Greek, Cyrillic and more); a name with
a letter the font lacks is shown transliterated (checked against the font's own character map), and the CSV
keeps it as written.
"""

from __future__ import annotations

import csv
import functools
import secrets
from collections.abc import Sequence
from pathlib import Path

from anyascii import anyascii
from django.conf import settings
from django.utils import timezone

from schoolgate.jobs.models import Job

FONTS = Path(__file__).resolve().parent / "fonts"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A CSV cell that no spreadsheet will execute."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


@functools.cache
def _drawable() -> frozenset[int]:
    """The code points the bundled font has glyphs for (read once; fontTools comes with fpdf)."""
    from fontTools.ttLib import TTFont

    with TTFont(FONTS / "DejaVuSans.ttf") as font:
        return frozenset(font.getBestCmap())


def _pdf_text(value: object) -> str:
    """The text as the PDF can draw it: as written when the font has every letter, else transliterated (a
    missing glyph prints as nothing, which dropped Devanagari surnames from the hand-out)."""
    text = "" if value is None else str(value)
    drawable = _drawable()
    return text if all(ord(ch) in drawable for ch in text) else anyascii(text)


def report_paths(job: Job, ending: int = 1) -> tuple[Path, Path]:
    """The PDF and CSV of the job's `ending`-th ending (1: the first; the names of jobs that ended once)."""
    folder = Path(settings.SCHOOLGATE_REPORTS_DIR) / job.district.slug
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"job-{job.pk}" if ending == 1 else f"job-{job.pk}-{ending}"
    return folder / f"{stem}.pdf", folder / f"{stem}.csv"


def write_reports(
    job: Job,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    summary: list[str],
    ending: int = 1,
) -> tuple[Path, Path]:
    """Write both files (PDF, CSV) of the job's `ending`-th ending and return their paths; the runner records
    them on the job. The runner numbers endings by those it recorded, so a report written by a runner that
    died before recording it is written again under the same name, and a recorded one never is."""
    pdf_path, csv_path = report_paths(job, ending)
    # Each file is written beside its final name and moved into place, so that a report is never seen
    # half-written, even after a crash (a runner killed after writing it writes it again on resume).
    # The temporary names are unique, so that two writers never move each other's file away.
    csv_temp, pdf_temp = (
        path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp") for path in (csv_path, pdf_path)
    )
    with csv_temp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows([safe_cell(v) for v in row] for row in rows)
    # Imported here, not at the top: fpdf (with fontTools) takes about a second to import, and this module is
    # loaded when the app starts, so every command, sync and web worker paid for it at start-up.
    from fpdf import FPDF

    pdf = FPDF(orientation="landscape", format="A4")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_title(job.title)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 14)
    pdf.cell(0, 9, _pdf_text(job.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.cell(
        0,
        6,
        _pdf_text(f"{job.district.name} — {timezone.localtime():%Y-%m-%d %H:%M}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    for line in summary:
        pdf.cell(0, 6, _pdf_text(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("DejaVu", "", 8)
    with pdf.table(first_row_as_headings=True, line_height=5) as table:
        table.row([_pdf_text(h) for h in headers])
        for row in rows:
            table.row([_pdf_text(v) for v in row])
    pdf.output(str(pdf_temp))
    csv_temp.replace(csv_path)
    pdf_temp.replace(pdf_path)
    return pdf_path, csv_path
