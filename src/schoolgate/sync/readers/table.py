"""Reading one CSV file of a set into a frame of strings, with every problem located by line and column.

Reading one file is four steps:

1. the header line, read by hand (`source.read_header`: it decides which columns exist and how they are named);
2. a structure scan: one streaming polars pass over the raw lines that finds, without a Python loop over
   rows, every line that is blank, has an odd number of double quotes (a quoted field that runs over the line
   end, or a stray quote) or a carriage return inside it, or — having no quotes — the wrong number of commas;
   it also counts each line's commas. Invalid UTF-8 makes that pass fail, and only then is the file walked in
   Python to find the offending line;
3. the real parse: `pl.read_csv` of the needed columns, all as strings, and of how many commas every row's
   values hold. Because step 2 proved that no record spans lines, data row i sits on physical line i + 2;
4. the field count of lines with quotes: the commas outside quoted values are the line's commas minus those
   inside the parsed values. Counting them from the raw line would mean cutting out each quoted segment with
   a regular expression, which for an export that quotes every field cost four times the parse itself.

Steps 2 and 4 only decide whether something is wrong. The messages for the lines they flag come from a
second, exact look at just those lines, or from the csv module when quotes are unbalanced (error paths).
"""

from __future__ import annotations

import csv
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


@dataclass
class Anomaly:
    """A line the structure scan flagged."""

    line: int
    kind: str  # blank | ragged | span | quote | cr | unreadable
    fields: int = 0
    end: int = 0  # for span: the line where the record ends
    snippet: str = ""


@dataclass
class Structure:
    lines: int  # physical lines, header included
    skip: set[int]  # lines that are not data rows (blank, or with the wrong number of fields)
    blank: int
    fields: int = 0  # the header's
    commas: pl.Series = field(
        default_factory=lambda: pl.Series([], dtype=pl.Int64)
    )  # per line, index line - 1


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


def _scan_polars(path: Path, n_fields: int) -> tuple[int, list[Anomaly], pl.Series]:
    """The vectorised structure scan: (lines, anomalies, commas per line); raises polars errors (invalid
    UTF-8, separator byte present)."""
    raw = pl.col("raw")
    quotes = raw.str.count_matches('"', literal=True)
    commas = raw.str.count_matches(",", literal=True)
    flagged = (
        raw.is_null()
        | (quotes % 2 == 1)
        | raw.str.contains("\r", literal=True)
        | ((quotes == 0) & (commas != n_fields - 1))  # exact without quotes; with them, see read_rows
    )
    scanned = (
        raw_lines(path)
        .select(commas=commas.fill_null(0).cast(pl.Int64), flagged=flagged.fill_null(True))
        .collect(engine="streaming")
    )
    lines = scanned.with_row_index("i").filter(pl.col("flagged") & (pl.col("i") > 0)).get_column("i") + 1
    anomalies = describe_lines(path, lines.to_list(), n_fields) if lines.len() else []
    return scanned.height, anomalies, scanned.get_column("commas")


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


def _scan_python(path: Path, n_fields: int) -> tuple[int, list[Anomaly]]:
    """The same scan with the csv module, record by record (error path: slow, but exact about quotes)."""
    anomalies: list[Anomaly] = []
    current = {"line": 0, "text": ""}

    def physical_lines() -> Iterator[str]:
        with path.open("rb") as handle:
            # Iterating a binary file splits on LF only, so a lone CR stays inside its line, as in polars.
            for number, data in enumerate(handle, 1):
                if number == 1 and data.startswith(BOM):
                    data = data[len(BOM) :]
                current["line"], current["text"] = number, data.decode("utf-8", errors="replace")
                yield current["text"]

    reader = csv.reader(physical_lines(), strict=False)
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            anomalies.append(Anomaly(current["line"], "unreadable", snippet=str(exc)))
            break
        end, text = current["line"], current["text"]
        if start > 1:
            body = text.rstrip("\n").removesuffix("\r")
            if end > start:
                anomalies.append(Anomaly(start, "span", end=end))
            elif not record:
                anomalies.append(Anomaly(start, "blank"))
            elif body.count('"') % 2:
                anomalies.append(Anomaly(start, "quote", len(record), snippet=body[:80]))
            else:
                if "\r" in body:
                    anomalies.append(Anomaly(start, "cr", snippet=body[:80]))
                if len(record) != n_fields:
                    anomalies.append(Anomaly(start, "ragged", len(record), snippet=body[:80]))
        start = end + 1
    return current["line"], anomalies


def scan_structure(path: Path, file: str, n_fields: int, log: ProblemLog) -> Structure | None:
    """Check line structure; None when the file cannot be parsed reliably (the errors are in `log`)."""
    try:
        total, anomalies, commas = _scan_polars(path, n_fields)
    except pl.exceptions.PolarsError as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            report_utf8(path, file, log)
            return None
        (total, anomalies), commas = _scan_python(path, n_fields), None
    else:
        if any(a.kind == "quote" for a in anomalies):
            # An odd number of quotes on a line is either a quoted field running over the line end or a
            # stray quote; only the csv module can tell which, so re-scan for exact messages.
            total, anomalies = _scan_python(path, n_fields)
    structure = Structure(total, set(), 0, n_fields)
    if commas is not None:
        structure.commas = commas
    return structure if _log_anomalies(file, anomalies, structure, log) else None


def _log_anomalies(file: str, anomalies: list[Anomaly], structure: Structure, log: ProblemLog) -> bool:
    """Log each anomaly and add the lines that are not data rows to `structure.skip`; False when the file
    cannot be parsed reliably at all."""
    fatal = False
    for a in anomalies:
        if a.kind == "blank":
            structure.skip.add(a.line)
            structure.blank += 1
            continue
        log.error(file, a.line, None, _anomaly_message(a, structure.fields))
        if a.kind in ("cr", "ragged"):  # one bad line: reported and skipped
            structure.skip.add(a.line)
        else:  # where rows start and end is no longer known
            fatal = True
    return not fatal


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
    wrong are reported and skipped like the structure scan's (step 4 of the module docstring).
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
    if structure.commas.len() == structure.lines:  # the polars scan counted every line's commas
        outside = structure.commas.slice(1) - frame.get_column(INNER_COMMAS).cast(pl.Int64)
        wrong = frame.filter(
            (outside != structure.fields - 1) & ~pl.col("line").is_in(sorted(structure.skip))
        ).get_column("line")
        if wrong.len():
            anomalies = describe_lines(path, wrong.to_list(), structure.fields)
            # A line whose quotes the parse and the exact look read differently (a quote inside a field that
            # is not quoted as a whole) cannot be trusted either way.
            found = {a.line for a in anomalies}
            anomalies += [
                Anomaly(
                    line, "unreadable", snippet="a double quote inside a field that is not quoted as a whole"
                )
                for line in wrong.to_list()
                if line not in found
            ]
            if not _log_anomalies(file, anomalies, structure, log):
                return None
    frame = frame.drop(INNER_COMMAS)
    if structure.skip:
        frame = frame.filter(~pl.col("line").is_in(sorted(structure.skip)))
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
