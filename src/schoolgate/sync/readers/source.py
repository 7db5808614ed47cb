"""Getting at the files of an SIS set and reading one CSV file into a frame of strings, with located problems.

A set is a folder or a .zip whose files sit at its root. Zip members are extracted to a temporary directory on
first use, so a large export is never held in memory and polars can memory-map each file.

Reading one file is three steps:

1. the header line, read by hand (it decides which columns exist and how they are named);
2. a structure scan: one streaming polars pass over the raw lines that finds, without a Python loop over
   rows, every line that is blank, has the wrong number of fields, has an odd number of double quotes (a
   quoted field that runs over the line end, or a stray quote) or a carriage return inside it; invalid UTF-8
   makes that pass fail, and only then is the file walked in Python to find the offending line;
3. the real parse: `pl.read_csv` of the needed columns only, all as strings. Because step 2 proved that no
   record spans lines, data row i sits on physical line i + 2.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import polars as pl

from schoolgate.sync.readers.problems import ProblemLog, quote

BOM = b"\xef\xbb\xbf"
# Folders and files that archivers and desktops add and that are never part of the set.
JUNK_DIRS = ("__MACOSX",)
HEADER_READ_LIMIT = 1 << 20
# The structure scan splits the file on this byte only, so each physical line becomes one string. It is a
# control character no CSV export contains; if one does, the scan falls back to the csv module.
RAW_SEPARATOR = "\x1f"
NUL_SEARCH_CHUNK = 1 << 24


def _is_junk(parts: tuple[str, ...]) -> bool:
    return any(part in JUNK_DIRS or part.startswith(".") for part in parts)


@dataclass
class FileSet:
    """The files of one SIS set, by name at the set's root (e.g. "users.csv")."""

    label: str  # how problems about the set itself name it: the zip's or folder's own name
    files: dict[str, Path | zipfile.ZipInfo] = field(default_factory=dict)
    archive: zipfile.ZipFile | None = None
    tmp: tempfile.TemporaryDirectory | None = None
    _nul_free: dict[str, bool] = field(default_factory=dict)  # nul_free's answers, by file name

    @property
    def names(self) -> list[str]:
        return sorted(self.files)

    def has(self, name: str) -> bool:
        return name in self.files

    def near_miss(self, name: str) -> str | None:
        """A file whose name differs from `name` only by letter case (file names are case-sensitive)."""
        for other in self.files:
            if other != name and other.lower() == name.lower():
                return other
        return None

    def path(self, name: str, log: ProblemLog) -> Path | None:
        """A path polars can read; zip members are extracted on first use."""
        entry = self.files[name]
        if isinstance(entry, Path):
            return entry
        assert self.archive is not None and self.tmp is not None
        target = Path(self.tmp.name) / name
        if not target.exists():
            try:
                with self.archive.open(entry) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
            except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, ValueError) as exc:
                target.unlink(missing_ok=True)
                log.error(name, None, None, f"could not be extracted from {self.label}: {exc}")
                return None
        return target

    def nul_free(self, name: str) -> bool:
        """Is there no NUL byte anywhere in the named file? False for a file not read (or not extracted) yet.

        One search of the raw bytes (memchr: ~0.1 s for 500 MB), far cheaper than looking into every value
        of every column."""
        if name not in self._nul_free:
            self._nul_free[name] = self._search_nul(name)
        return self._nul_free[name]

    def _search_nul(self, name: str) -> bool:
        entry = self.files.get(name)
        path = entry if isinstance(entry, Path) else Path(self.tmp.name) / name if self.tmp else None
        if path is None or not path.is_file():
            return False
        # Read in chunks rather than memory-mapped: a mapped file's pages count in the process's resident
        # size, half a gigabyte for a large users.csv, which the sync's memory budget has no room for.
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(NUL_SEARCH_CHUNK):
                    if b"\x00" in chunk:
                        return False
        except OSError:
            return False
        return True

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()
        if self.tmp is not None:
            self.tmp.cleanup()

    def __enter__(self) -> FileSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pick_level(
    label: str, kind: str, entries: dict[PurePosixPath, Path | zipfile.ZipInfo], log: ProblemLog
) -> dict[str, Path | zipfile.ZipInfo] | None:
    """The files at the root, or — when every CSV sits in one sub-folder — that folder's files."""
    root = {p.name: e for p, e in entries.items() if len(p.parts) == 1}
    if any(name.lower().endswith(".csv") for name in root):
        return root
    folders = {p.parent for p in entries if p.name.lower().endswith(".csv")}
    if not folders:
        log.error(
            label,
            None,
            None,
            "contains no CSV files; expected users.csv, orgs.csv and the rest at its root.",
        )
        return None
    if len(folders) > 1:
        listed = ", ".join(sorted(f"'{f}/'" for f in folders)[:5])
        log.error(
            label,
            None,
            None,
            f"has no CSV files at its root but several folders with CSV files ({listed}); "
            f"put the files of one set at the root of the {kind}.",
        )
        return None
    folder = folders.pop()
    log.deviation(
        label,
        None,
        None,
        f"the CSV files sit in the folder '{folder}/' instead of at the root of the {kind}.",
        "read the files from that folder.",
    )
    if not log.tolerant:
        return None
    return {p.name: e for p, e in entries.items() if p.parent == folder}


def open_fileset(path: Path, log: ProblemLog) -> FileSet | None:
    """Open a folder or zip; problems (not found, not a zip, files in a sub-folder) go to `log`."""
    label = path.name or str(path)
    if path.is_dir():
        entries: dict[PurePosixPath, Path | zipfile.ZipInfo] = {}
        for item in path.iterdir():
            if _is_junk((item.name,)):
                continue
            if item.is_file():
                entries[PurePosixPath(item.name)] = item
            elif item.is_dir():
                # One level down only: that is where a set lands when a folder is zipped or copied whole.
                for inner in item.iterdir():
                    if inner.is_file() and not _is_junk((inner.name,)):
                        entries[PurePosixPath(item.name, inner.name)] = inner
        files = _pick_level(label, "folder", entries, log)
        return None if files is None else FileSet(label, files)
    if not path.exists():
        log.error(label, None, None, f"was not found (looked for {quote(str(path), 200)}).")
        return None
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        log.error(label, None, None, f"is not a folder or a readable .zip file ({exc}).")
        return None
    entries = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        member = PurePosixPath(info.filename.replace("\\", "/"))
        if _is_junk(member.parts):
            continue
        entries[member] = info
    files = _pick_level(label, "zip file", entries, log)
    if files is None:
        archive.close()
        return None
    return FileSet(label, files, archive, tempfile.TemporaryDirectory(prefix="schoolgate-sis-"))


# -- reading one CSV file ------------------------------------------------------------------------------------


def _utf8_problem(path: Path) -> tuple[int, str] | None:
    """Line and description of the first byte that is not UTF-8 (error path: walks the file in Python)."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if number == 1 and line.startswith(BOM):
                line = line[len(BOM) :]
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                before = line[: exc.start].decode("utf-8", errors="replace").rstrip("\r\n")
                where = f"after {quote(before[-30:])}" if before else "at the start of the line"
                return number, f"byte 0x{line[exc.start]:02X} {where}"
    return None


def report_utf8(path: Path, file: str, log: ProblemLog) -> None:
    with path.open("rb") as handle:
        start = handle.read(2)
    if start in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode text" and some exports write UTF-16
        log.error(file, 1, None, "is UTF-16 text (it starts with a UTF-16 byte-order mark), not UTF-8. "
                  "Save it as UTF-8 (CSV UTF-8) and export again.")  # fmt: skip
        return
    found = _utf8_problem(path)
    if found is None:
        log.error(file, None, None, "is not valid UTF-8 text; save it as UTF-8 (CSV UTF-8) and export again.")
        return
    line, detail = found
    log.error(
        file,
        line,
        None,
        f"is not valid UTF-8 text: {detail} is not UTF-8 (the file was probably saved as Windows-1252 or "
        f"Latin-1). Save it as UTF-8 (CSV UTF-8) and export again.",
    )


def read_header(path: Path, file: str, log: ProblemLog) -> list[str] | None:
    """The header's field names, BOM and line ending removed; None (with an error) if there is none."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
        while b"\n" not in head and len(head) < HEADER_READ_LIMIT:
            more = handle.read(1 << 16)
            if not more:
                break
            head += more
    if head.startswith(BOM):
        head = head[len(BOM) :]
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    if not first.strip():
        message = "is empty" if not head.strip() else "starts with a blank line"
        log.error(file, 1, None, f"{message}: the first line must be the header, followed by data rows.")
        return None
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        report_utf8(path, file, log)
        return None
    if "\r" in text:
        log.error(
            file,
            1,
            None,
            "uses carriage returns (CR) alone as line breaks (an old Mac format); save it with LF or CRLF "
            "line breaks.",
        )
        return None
    if text.count('"') % 2:
        log.error(file, 1, None, f"the header line has an unmatched double quote: {quote(text, 120)}.")
        return None
    return parse_line(text)


def parse_line(text: str) -> list[str]:
    """The fields of one CSV line that is known to hold no line break and balanced quotes."""
    return next(csv.reader([text]))


@dataclass
class Anomaly:
    """A line the structure scan flagged."""

    line: int
    kind: str  # blank | ragged | span | quote | cr | unreadable
    fields: int = 0
    end: int = 0  # for span: the line where the record ends
    snippet: str = ""


def _scan_polars(path: Path, n_fields: int) -> tuple[int, list[Anomaly]]:
    """The vectorised structure scan; raises polars errors (invalid UTF-8, separator byte present)."""
    lines = pl.scan_csv(
        path,
        glob=False,  # a folder named "Export [2024]" is a path, not a pattern
        has_header=False,
        separator=RAW_SEPARATOR,
        quote_char=None,
        infer_schema=False,
        new_columns=["raw"],
        empty_string_is_null=True,
    )
    raw = pl.col("raw")
    quotes = raw.str.count_matches('"', literal=True)
    # Commas inside quoted segments do not separate fields, so quoted segments are cut out before counting;
    # `"a""b"` is two adjacent segments, so escaped quotes come out right too. (Not limited to lines with
    # quotes by a when/then: polars evaluates both branches on every line, so that was slower.)
    commas = raw.str.replace_all('"[^"]*"', "").str.count_matches(",", literal=True)
    flagged = (
        lines.with_row_index("i")
        .filter(pl.col("i") > 0)
        .filter(
            raw.is_null()
            | (commas != n_fields - 1)
            | (quotes % 2 == 1)
            | raw.str.contains("\r", literal=True)
        )
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
    total = lines.select(pl.len()).collect().item()
    anomalies: list[Anomaly] = []
    # Error path only: this frame holds just the flagged lines, normally none.
    for row in flagged.iter_rows(named=True):
        if row["blank"]:
            anomalies.append(Anomaly(row["line"], "blank"))
        elif row["odd"]:
            anomalies.append(Anomaly(row["line"], "quote", row["fields"], snippet=row["snippet"]))
        else:
            if row["cr"]:
                anomalies.append(Anomaly(row["line"], "cr", snippet=row["snippet"]))
            if row["fields"] != n_fields:
                anomalies.append(Anomaly(row["line"], "ragged", row["fields"], snippet=row["snippet"]))
    return total, anomalies


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


@dataclass
class Structure:
    lines: int  # physical lines, header included
    skip: set[int]  # lines that are not data rows (blank, or with the wrong number of fields)
    blank: int


def scan_structure(path: Path, file: str, n_fields: int, log: ProblemLog) -> Structure | None:
    """Check line structure; None when the file cannot be parsed reliably (the errors are in `log`)."""
    try:
        total, anomalies = _scan_polars(path, n_fields)
    except pl.exceptions.PolarsError as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            report_utf8(path, file, log)
            return None
        total, anomalies = _scan_python(path, n_fields)
    else:
        if any(a.kind == "quote" for a in anomalies):
            # An odd number of quotes on a line is either a quoted field running over the line end or a
            # stray quote; only the csv module can tell which, so re-scan for exact messages.
            total, anomalies = _scan_python(path, n_fields)
    fatal = False
    skip: set[int] = set()
    blank = 0
    for a in anomalies:
        if a.kind == "blank":
            skip.add(a.line)
            blank += 1
        elif a.kind == "span":
            fatal = True
            log.error(
                file,
                a.line,
                None,
                f"a quoted field that starts on this line contains a line break (the record only ends on "
                f"line {a.end}); line breaks are not allowed inside fields. Check for an unclosed double "
                f"quote.",
            )
        elif a.kind == "quote":
            fatal = True
            log.error(
                file,
                a.line,
                None,
                f"has an unmatched double quote: {quote(a.snippet)}. A field that contains a double quote "
                f'must be quoted as a whole, with the inner quote doubled ("").',
            )
        elif a.kind == "cr":
            skip.add(a.line)
            log.error(
                file,
                a.line,
                None,
                f"contains a carriage return (CR) inside a field: {quote(a.snippet)}; line breaks are not "
                f"allowed inside fields.",
            )
        elif a.kind == "ragged":
            skip.add(a.line)
            log.error(
                file,
                a.line,
                None,
                f"has {a.fields} field{'s' if a.fields != 1 else ''} but the header has {n_fields}: "
                f"{quote(a.snippet)}. Every line must "
                f"have as many comma-separated fields as the header (check for a missing or extra comma, or "
                f"a value with a comma that is not in double quotes).",
            )
        else:
            fatal = True
            log.error(file, a.line, None, f"could not be read as CSV: {a.snippet}.")
    return None if fatal else Structure(total, skip, blank)


def read_rows(
    path: Path, file: str, columns: dict[str, int], structure: Structure, log: ProblemLog
) -> pl.DataFrame | None:
    """Parse the wanted columns (canonical name → field index) as strings, plus `line`; empty → null.

    Values are kept exactly as written (no trimming): what the SIS sent is what the engine compares.
    """
    order = sorted(columns.items(), key=lambda item: item[1])
    try:
        frame = pl.read_csv(
            path,
            glob=False,
            columns=[index for _, index in order],
            infer_schema=False,
            # Quoted empty fields ("") become null too, so that "empty" means one thing downstream.
            null_values=[""],
            truncate_ragged_lines=True,
            raise_if_empty=False,
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
    frame.columns = [name for name, _ in order]
    frame = frame.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))
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
