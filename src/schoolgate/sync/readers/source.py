"""Getting at the files of an SIS set: a folder or a .zip, its files by name, their header lines and encoding.

A set is a folder or a .zip whose files sit at its root. Zip members are extracted to a temporary directory on
first use, so a large export is never held in memory and polars can memory-map each file. What a zip may expand
to is bounded (a small zip can declare gigabytes), and a zip that holds a file twice is refused: which copy is
the export cannot be told. Reading one file into a frame is `table.py`.
"""

from __future__ import annotations

import csv
import os
import shutil
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from schoolgate.sync.readers.problems import ProblemLog, quote

BOM = b"\xef\xbb\xbf"
# Folders and files that archivers and desktops add and that are never part of the set.
JUNK_DIRS = ("__MACOSX",)
HEADER_READ_LIMIT = 1 << 20
NUL_SEARCH_CHUNK = 1 << 24
# What a zip may expand to on disk, checked against each member's declared size before it is extracted and
# against the bytes that really come out while it is (a header can lie). A 1 MB zip can declare a 1 GiB member,
# so an upload of up to 2 GB (uploads.MAX_UPLOAD, the compressed size) could otherwise fill the disk. A million
# students' users.csv is about 520 MB: a member may be four times that, and the members one read extracts
# together eight times, which no real export comes near.
MAX_MEMBER_SIZE = 2 << 30  # 2 GiB
MAX_EXTRACTED_SIZE = 4 << 30  # 4 GiB, all the members extracted from one zip
EXTRACT_CHUNK = 1 << 20
TMP_PREFIX = "schoolgate-sis-"
# A run that is killed (out of memory, a deploy) never removes its temporary folder; the next run that opens a
# zip removes those older than this, which no run lasts (an initial import of a million students takes minutes).
STALE_TMP_SECONDS = 24 * 3600


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
    _extracted: int = 0  # bytes extracted from the zip so far

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
        if not target.exists() and not self._extract(name, entry, target, log):
            return None
        return target

    def _extract(self, name: str, entry: zipfile.ZipInfo, target: Path, log: ProblemLog) -> bool:
        """Extract one member within MAX_MEMBER_SIZE and MAX_EXTRACTED_SIZE; False (with an error) if not."""
        assert self.archive is not None
        limit = min(MAX_MEMBER_SIZE, MAX_EXTRACTED_SIZE - self._extracted)
        if entry.file_size > limit:
            log.error(name, None, None, self._too_large(entry.file_size, limit))
            return False
        written = 0
        try:
            with self.archive.open(entry) as source, target.open("wb") as sink:
                while chunk := source.read(EXTRACT_CHUNK):
                    written += len(chunk)
                    if written > limit:  # a header that understates the size: stop before the disk fills
                        break
                    sink.write(chunk)
        except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, ValueError) as exc:
            target.unlink(missing_ok=True)
            log.error(name, None, None, f"could not be extracted from {self.label}: {exc}")
            return False
        if written > limit:
            target.unlink(missing_ok=True)
            log.error(name, None, None, self._too_large(entry.file_size, limit, understated=True))
            return False
        self._extracted += written
        return True

    def _too_large(self, declared: int, limit: int, understated: bool = False) -> str:
        if limit < MAX_MEMBER_SIZE:
            bound = f"the {_size(limit)} left of the {_size(MAX_EXTRACTED_SIZE)} a zip may expand to"
        else:
            bound = f"the {_size(MAX_MEMBER_SIZE)} a file of a set may have"
        size = (
            f"more than {bound}, though the zip says {_size(declared)},"
            if understated
            else f"{_size(declared)}, more than {bound},"
        )
        return (
            f"expands to {size} in {self.label} (a million students' users.csv is about 520 MB); it was not "
            f"extracted. Check that the zip holds the SIS export and nothing else."
        )

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


def _size(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GiB"
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n:,} bytes"


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
    # Names as stored, by member: "users.csv" and "./users.csv" are one member, so is a name stored twice.
    stored: dict[PurePosixPath, list[str]] = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        member = _member(info)
        if _is_junk(member.parts):
            continue
        entries.setdefault(member, info)
        stored.setdefault(member, []).append(info.filename)
    files = _pick_level(label, "zip file", entries, log)
    if files is not None:
        for name, info in sorted(files.items()):
            names = stored[_member(info)]
            if len(names) > 1:
                times = "twice" if len(names) == 2 else f"{len(names)} times"
                log.error(
                    name,
                    None,
                    None,
                    f"appears {times} in {label} ({', '.join(quote(n, 120) for n in names)}); which copy is the "
                    f"export cannot be told, so the set was not read. Make the zip again with each file once.",
                )
                files = None
    if files is None:
        archive.close()
        return None
    _remove_stale_tmp()
    return FileSet(label, files, archive, tempfile.TemporaryDirectory(prefix=TMP_PREFIX))


def _member(info: zipfile.ZipInfo) -> PurePosixPath:
    """A zip member's path as the set sees it ("./a//b" is "a/b"; Windows archivers write backslashes)."""
    return PurePosixPath(info.filename.replace("\\", "/"))


def _remove_stale_tmp() -> None:
    """Remove this user's extraction folders that a killed run left behind (see STALE_TMP_SECONDS)."""
    cutoff = time.time() - STALE_TMP_SECONDS
    for folder in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*"):
        try:
            info = folder.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and info.st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


# -- encoding and header -------------------------------------------------------------------------------------


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
