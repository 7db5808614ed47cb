"""Reading one CSV file of a set into a frame of strings, with every problem located by line and column.

Reading one file is four steps:

1. the header line, read by hand (`source.read_header`: it decides which columns exist and how they are named);
2. a structure scan: one streaming polars pass over the raw lines that finds, without a Python loop over
   rows, every line that is blank, has an odd number of double quotes (a quoted field that runs over the line
   end, or a stray quote) or a carriage return inside it, or — having no quotes — the wrong number of commas;
   it also counts each line's commas. What it finds stays in polars: blank lines are a count and a mask, not
   Python objects, so each costs the scan a few bytes (and a file past MAX_LINES or MAX_BLANK_LINES is
   refused). Invalid UTF-8 makes that pass fail, and only then is the file walked in Python to find the
   offending line;
3. the real parse: `pl.read_csv` of the needed columns, all as strings, and of how many commas every row's
   values hold. Because step 2 proved that no record spans lines, data row i sits on physical line i + 2
   (polars parses a blank line as a row of nulls, which the scan's mask then drops);
4. the field count of lines with quotes: the commas outside quoted values are the line's commas minus those
   inside the parsed values. Counting them from the raw line would mean cutting out each quoted segment with
   a regular expression, which for an export that quotes every field cost four times the parse itself.

Steps 2 and 4 only decide whether something is wrong. The messages for the lines they flag come from a
second, exact look at just those lines — only as many as the problem log still lists, the rest are counted —
or from the csv module when quotes are unbalanced (error paths).
"""

from __future__ import annotations

import csv
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from schoolgate.sync.readers.problems import ProblemLog, quote
from schoolgate.sync.readers.source import BOM, FileSet, read_header, report_utf8

# The structure scan splits the file on this byte only, so each physical line becomes one string. It is a
# control character no CSV export contains; if one does, the scan falls back to the csv module.
RAW_SEPARATOR = "\x1f"
INNER_COMMAS = "__inner_commas"  # read_rows' count of the commas inside each row's values

# Bounds on what one file may cost, whatever it holds. The scan keeps ~5 bytes a line, and the parse ~20 bytes
# a field a line even for a blank line (polars parses it as a row of nulls: ~370 bytes for users.csv's 18
# fields), so a file of one-byte lines would otherwise cost hundreds of times its size: 1 GiB of blank lines
# in a 1 MB zip is a billion rows. A million students' users.csv has about 3.1 million lines and real exports
# a handful of blank lines at most, so neither bound is ever met by an export as written.
MAX_LINES = 20_000_000  # physical lines a file may have: the scan stops one line past (≤ ~0.5 GB, ~1 s)
MAX_BLANK_LINES = 100_000  # blank lines skipped in one file (≤ ~40 MB in the parse); more is an error
UNQUOTED_QUOTE = "a double quote inside a field that is not quoted as a whole"


@dataclass
class Anomaly:
    """A line the structure scan flagged (error path: never for a blank line, and in the polars scan only for
    the lines the problem log lists)."""

    line: int
    kind: str  # blank | ragged | span | quote | cr | unreadable
    fields: int = 0
    end: int = 0  # for span: the line where the record ends
    snippet: str = ""


@dataclass
class Structure:
    lines: int  # physical lines, header included
    blank: int  # blank lines: skipped, a known deviation
    fields: int  # the header's
    # Per line (index line - 1): not a data row — blank, or reported for its number of fields or a CR. A polars
    # mask, not a set of line numbers, so that each blank line costs a bit rather than a Python object.
    skip: pl.Series
    commas: pl.Series = field(
        default_factory=lambda: pl.Series([], dtype=pl.UInt32)
    )  # per line, index line - 1; empty when the csv module scanned the file


def raw_lines(path: Path) -> pl.LazyFrame:
    """The file's physical lines, one string each (`raw`), as written: no quoting, a blank line is null."""
    return pl.scan_csv(
        path,
        glob=False,  # a folder named "Export [2024]" is a path, not a pattern
        has_header=False,
        separator=RAW_SEPARATOR,
        quote_char=None,
        infer_schema=False,
        new_columns=["raw"],
        empty_string_is_null=True,
    )


def _scan_polars(path: Path, n_fields: int) -> pl.DataFrame:
    """The vectorised structure scan: per line (at most MAX_LINES + 1) its `commas`, and whether it is `blank`,
    has an `odd` number of quotes, or is `bad` (a CR, or without quotes the wrong number of commas); raises
    polars errors (invalid UTF-8, separator byte present)."""
    raw = pl.col("raw")
    quotes = raw.str.count_matches('"', literal=True)
    commas = raw.str.count_matches(",", literal=True)
    bad = raw.str.contains("\r", literal=True) | ((quotes == 0) & (commas != n_fields - 1))
    return (
        raw_lines(path)
        # One line past the bound is enough to know the file is too long; reading stops there.
        .head(MAX_LINES + 1)
        .select(
            commas=commas.fill_null(0),
            blank=raw.is_null(),
            odd=(quotes % 2 == 1).fill_null(False),
            bad=bad.fill_null(False),  # exact without quotes; with them, see read_rows
        )
        .collect(engine="streaming")
    )


def describe_lines(path: Path, lines: list[int], n_fields: int) -> list[Anomaly]:
    """What is wrong with each of the given lines (error path: exact, and only for these lines)."""
    raw = pl.col("raw")
    quotes = raw.str.count_matches('"', literal=True)
    # Commas inside quoted segments do not separate fields, so quoted segments are cut out before counting;
    # `"a""b"` is two adjacent segments, so escaped quotes come out right too.
    commas = raw.str.replace_all('"[^"]*"', "").str.count_matches(",", literal=True)
    found = (
        raw_lines(path)
        .with_row_index("i")
        .filter((pl.col("i") + 1).is_in(lines))
        .select(
            line=pl.col("i").cast(pl.Int64) + 1,
            blank=raw.is_null(),
            fields=commas.cast(pl.Int64) + 1,
            odd=(quotes % 2 == 1),
            cr=raw.str.contains("\r", literal=True),
            snippet=raw.str.slice(0, 80),
        )
        .collect(engine="streaming")
    )
    anomalies: list[Anomaly] = []
    for row in found.iter_rows(named=True):
        if row["blank"]:
            anomalies.append(Anomaly(row["line"], "blank"))
        elif row["odd"]:
            anomalies.append(Anomaly(row["line"], "quote", row["fields"], snippet=row["snippet"]))
        else:
            if row["cr"]:
                anomalies.append(Anomaly(row["line"], "cr", snippet=row["snippet"]))
            if row["fields"] != n_fields:
                anomalies.append(Anomaly(row["line"], "ragged", row["fields"], snippet=row["snippet"]))
    return anomalies


def _scan_python(path: Path, file: str, n_fields: int, log: ProblemLog) -> Structure | None:
    """The same scan with the csv module, record by record (error path: slow, but exact about quotes).

    Problems are logged as they are found; blank and skipped lines are kept as numbers in arrays, not as
    objects."""
    blank, bad = array("q"), array("q")
    fatal = False
    current = {"line": 0, "text": ""}

    def physical_lines() -> Iterator[str]:
        with path.open("rb") as handle:
            # Iterating a binary file splits on LF only, so a lone CR stays inside its line, as in polars.
            for number, data in enumerate(handle, 1):
                if number > MAX_LINES + 1:  # as in the polars scan: enough to know the file is too long
                    return
                if number == 1 and data.startswith(BOM):
                    data = data[len(BOM) :]
                current["line"], current["text"] = number, data.decode("utf-8", errors="replace")
                yield current["text"]

    def found(a: Anomaly) -> None:
        nonlocal fatal
        if _log_anomaly(file, a, n_fields, log):
            fatal = True
        else:
            bad.append(a.line)

    reader = csv.reader(physical_lines(), strict=False)
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            found(Anomaly(current["line"], "unreadable", snippet=str(exc)))
            break
        end, text = current["line"], current["text"]
        if end > MAX_LINES:
            break  # too long: reported below, and this record may be cut short
        if start > 1:
            body = text.rstrip("\n").removesuffix("\r")
            if end > start:
                found(Anomaly(start, "span", end=end))
            elif not record:
                blank.append(start)
            elif body.count('"') % 2:
                found(Anomaly(start, "quote", len(record), snippet=body[:80]))
            else:
                if "\r" in body:
                    found(Anomaly(start, "cr", snippet=body[:80]))
                if len(record) != n_fields:
                    found(Anomaly(start, "ragged", len(record), snippet=body[:80]))
        start = end + 1
    total = current["line"]
    if not _within_bounds(file, total, len(blank), log) or fatal:
        return None
    skip = pl.repeat(False, total, dtype=pl.Boolean, eager=True)
    if blank or bad:
        lines = pl.Series(blank, dtype=pl.Int64).append(pl.Series(bad, dtype=pl.Int64))
        skip = skip.scatter(lines - 1, True)
    return Structure(total, len(blank), n_fields, skip)


def scan_structure(path: Path, file: str, n_fields: int, log: ProblemLog) -> Structure | None:
    """Check line structure; None when the file cannot be parsed reliably (the errors are in `log`)."""
    try:
        scanned = _scan_polars(path, n_fields)
    except pl.exceptions.PolarsError as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            report_utf8(path, file, log)
            return None
        return _scan_python(path, file, n_fields, log)
    blank = int(scanned.get_column("blank").head(MAX_LINES).sum())  # the header is never blank
    if not _within_bounds(file, scanned.height, blank, log):
        return None
    data = scanned.slice(1)  # the header is read_header's
    if data.get_column("odd").any():
        # An odd number of quotes on a line is either a quoted field running over the line end or a stray
        # quote; only the csv module can tell which, so re-scan for exact messages.
        return _scan_python(path, file, n_fields, log)
    flagged = data.get_column("bad")
    skip = (scanned.get_column("blank") | scanned.get_column("bad")).scatter(0, False)
    if flagged.any():  # one bad line: reported and skipped
        lines = (flagged.arg_true().cast(pl.Int64) + 2).alias("line")
        if not _report_lines(path, file, lines, n_fields, log):
            return None
    return Structure(scanned.height, blank, n_fields, skip, scanned.get_column("commas"))


def _within_bounds(file: str, lines: int, blank: int, log: ProblemLog) -> bool:
    """Is the file within MAX_LINES and MAX_BLANK_LINES? If not, says so in `log`."""
    if lines > MAX_LINES:
        among = f" ({blank:,} of the first {MAX_LINES:,} are blank)" if blank else ""
        log.error(
            file,
            None,
            None,
            f"has more than {MAX_LINES:,} lines{among}, several times what the largest school district exports "
            f"(a million students' users.csv has about 3 million); it was not read.",
        )
        return False
    if blank > MAX_BLANK_LINES:
        log.error(
            file,
            None,
            None,
            f"has {blank:,} blank lines; a few are skipped, but more than {MAX_BLANK_LINES:,} mean the file is not "
            f"the export as written. Remove the blank lines or export the file again.",
        )
        return False
    return True


def _report_lines(path: Path, file: str, lines: pl.Series, n_fields: int, log: ProblemLog) -> bool:
    """Log what is wrong with each of `lines` (which are skipped); False when one leaves the file unreadable.

    Only as many lines as the log still lists are looked at in Python; the others are only counted, so a file
    with a wrong field count on each of its million lines costs no more than one with a few."""
    fatal, done = False, 0
    while done < lines.len() and (room := log.room("error", file)):
        chunk = lines.slice(done, room).to_list()
        done += len(chunk)
        anomalies = describe_lines(path, chunk, n_fields)
        # A line whose quotes the parse and the exact look read differently (a quote inside a field that is
        # not quoted as a whole) cannot be trusted either way.
        described = {a.line for a in anomalies}
        anomalies += [
            Anomaly(line, "unreadable", snippet=UNQUOTED_QUOTE) for line in chunk if line not in described
        ]
        for a in anomalies:
            fatal = _log_anomaly(file, a, n_fields, log) or fatal
    if done < lines.len():
        # The log lists no more errors for this file, so no message is built: these are counted only.
        log.rows("error", file, None, lines.slice(done).to_frame("line"), lambda row: "")
    return not fatal


def _log_anomaly(file: str, a: Anomaly, header_fields: int, log: ProblemLog) -> bool:
    """Log one anomaly (not a blank line); True when where rows start and end is no longer known."""
    log.error(file, a.line, None, _anomaly_message(a, header_fields))
    return a.kind not in ("cr", "ragged")  # one bad line is reported and skipped; the rest is fatal


def _anomaly_message(a: Anomaly, header_fields: int) -> str:
    if a.kind == "span":
        return (
            f"a quoted field that starts on this line contains a line break (the record only ends on line "
            f"{a.end}); line breaks are not allowed inside fields. Check for an unclosed double quote."
        )
    if a.kind == "quote":
        return (
            f"has an unmatched double quote: {quote(a.snippet)}. A field that contains a double quote must be "
            f'quoted as a whole, with the inner quote doubled ("").'
        )
    if a.kind == "cr":
        return (
            f"contains a carriage return (CR) inside a field: {quote(a.snippet)}; line breaks are not allowed "
            f"inside fields."
        )
    if a.kind == "ragged":
        return (
            f"has {a.fields} field{'s' if a.fields != 1 else ''} but the header has {header_fields}: "
            f"{quote(a.snippet)}. Every line must have as many comma-separated fields as the header (check "
            f"for a missing or extra comma, or a value with a comma that is not in double quotes)."
        )
    return f"could not be read as CSV: {a.snippet}."


def read_rows(
    path: Path, file: str, columns: dict[str, int], structure: Structure, log: ProblemLog
) -> pl.DataFrame | None:
    """Parse the wanted columns (canonical name → field index) as strings, plus `line`; empty → null.

    Values are kept exactly as written (no trimming): what the SIS sent is what the engine compares. Every
    column is parsed to count the commas inside values, and lines with quotes whose field count is then
    wrong are reported and skipped like the structure scan's (step 4 of the module docstring). Blank lines,
    which polars parses as rows of nulls, go by the scan's mask with the lines it reported.
    """
    fields = [f"f{i}" for i in range(structure.fields)]
    order = sorted(columns.items(), key=lambda item: item[1])
    inner = pl.sum_horizontal([pl.col(name).str.count_matches(",", literal=True) for name in fields])
    try:
        frame = (
            pl.scan_csv(
                path,
                glob=False,
                new_columns=fields,
                infer_schema=False,
                # Quoted empty fields ("") become null too, so that "empty" means one thing downstream.
                null_values=[""],
                truncate_ragged_lines=True,
                raise_if_empty=False,
            )
            .select(*[pl.col(fields[index]).alias(name) for name, index in order], inner.alias(INNER_COMMAS))
            .collect()
        )
    except pl.exceptions.PolarsError as exc:
        log.error(file, None, None, f"could not be read as CSV: {exc}")
        return None
    if frame.height != structure.lines - 1:
        # Cannot happen once the structure scan passed; refuse rather than report wrong line numbers.
        log.error(
            file,
            None,
            None,
            f"could not be read reliably ({frame.height} records on {structure.lines - 1} data lines).",
        )
        return None
    frame = frame.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))
    keep = ~structure.skip.slice(1)  # aligned with the rows: the blank lines and those already reported go
    if structure.commas.len() == structure.lines:  # the polars scan counted every line's commas
        # A data row's commas are those inside its values plus one between each two fields; any other count
        # is a field too many or too few. (Both UInt32: no 64-bit copy of a million-row column.)
        expected = frame.get_column(INNER_COMMAS) + (structure.fields - 1)
        wrong = frame.get_column("line").filter((structure.commas.slice(1) != expected) & keep)
        if wrong.len():
            if not _report_lines(path, file, wrong, structure.fields, log):
                return None
            keep = keep.scatter(wrong - 2, False)
    frame = frame.drop(INNER_COMMAS)
    if not keep.all():
        frame = frame.filter(keep)
    return frame


def load_table(
    fs: FileSet,
    name: str,
    log: ProblemLog,
    resolve_header: Callable[[list[str]], dict[str, int] | None],
    empty_hint: str = "",
) -> pl.DataFrame | None:
    """Read one file of the set into a frame of canonical string columns plus `line`.

    `resolve_header` checks the header and maps canonical column names to field positions, logging its own
    problems; None means the file cannot be read. Header lines repeated inside the data are a known deviation
    (skipped when tolerant). A file without data rows is an error.
    """
    path = fs.path(name, log)
    if path is None:
        return None
    header = read_header(path, name, log)
    if header is None:
        return None
    columns = resolve_header(header)
    if columns is None:
        return None
    structure = scan_structure(path, name, len(header), log)
    if structure is None:
        return None
    frame = read_rows(path, name, columns, structure, log)
    if frame is None:
        return None
    # A repeated header line has every column equal to its own header name; test the first column on all
    # rows and the rest only on the (normally zero) rows that pass.
    first, first_index = min(columns.items(), key=lambda item: item[1])
    candidates = frame.filter(pl.col(first) == header[first_index])
    repeats = candidates.filter(
        pl.all_horizontal(pl.col(col).eq_missing(header[index] or None) for col, index in columns.items())
    ).select("line")
    if repeats.height:
        log.deviation_rows(
            name,
            None,
            repeats,
            lambda row: "repeats the header line inside the data.",
            "the line was skipped.",
        )
        frame = frame.filter(~pl.col("line").is_in(repeats.get_column("line").implode()))
    if structure.lines - 1 - structure.blank - repeats.height == 0:
        log.error(
            name,
            1,
            None,
            f"has a header but no data rows; files with no data rows are not allowed{empty_hint}.",
        )
        return None
    return frame
