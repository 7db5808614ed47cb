"""OneRoster manifest.csv: the version, and for each file whether it is absent, bulk or delta.

The manifest is cross-checked against the files actually present: a file the manifest promises must be there,
and a present file marked absent is a known real-world deviation (an error, or ignored when tolerant).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from schoolgate.sync.readers.base import Mode
from schoolgate.sync.readers.problems import ProblemLog, quote
from schoolgate.sync.readers.source import FileSet, parse_line, report_utf8
from schoolgate.sync.readers.spec import MANIFEST_MODES

MANIFEST = "manifest.csv"


@dataclass
class Manifest:
    version: str  # "1.0" | "1.1" | "1.2"
    modes: dict[str, Mode] = field(default_factory=dict)  # by file stem: "users", "orgs", "roles"
    source_system: str | None = None


# -- manifest ------------------------------------------------------------------------------------------------


def _manifest_rows(fs: FileSet, log: ProblemLog) -> dict[str, tuple[str, int]] | None:
    """propertyName → (value, line), or None when the manifest is unreadable (errors logged)."""
    path = fs.path(MANIFEST, log)
    if path is None:
        return None
    data = path.read_bytes()  # a manifest is a few hundred bytes
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        report_utf8(path, MANIFEST, log)
        return None
    rows: dict[str, tuple[str, int]] = {}
    header_seen = False
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.removesuffix("\r")
        if not line.strip():
            continue
        if line.count('"') % 2 or "\r" in line:
            log.error(MANIFEST, number, None, f"cannot be read as a CSV line: {quote(line)}.")
            return None
        fields = parse_line(line)
        if not header_seen:
            header_seen = True
            if fields != ["propertyName", "value"]:
                log.error(
                    MANIFEST,
                    number,
                    None,
                    f"the header is {quote(line)}; expected 'propertyName,value'.",
                )
                return None
            continue
        if len(fields) != 2:
            log.error(
                MANIFEST,
                number,
                None,
                f"has {len(fields)} fields: {quote(line)}; every line must be 'propertyName,value'.",
            )
            continue
        name, value = fields[0].strip(), fields[1].strip()
        if name in rows:
            log.error(
                MANIFEST, number, "propertyName", f"{quote(name)} is already given on line {rows[name][1]}."
            )
            continue
        rows[name] = (value, number)
    if not header_seen:
        log.error(MANIFEST, 1, None, "is empty; expected 'propertyName,value' and the manifest rows.")
        return None
    return rows


def read_manifest(fs: FileSet, log: ProblemLog) -> Manifest | None:
    """The version, the modes of the files this reader uses, and the source system; None if unusable."""
    rows = _manifest_rows(fs, log)
    if rows is None:
        return None
    if "oneroster.version" not in rows:
        log.error(
            MANIFEST,
            None,
            "propertyName",
            "has no 'oneroster.version' row; expected 'oneroster.version' with the value 1.1 or 1.2.",
        )
        return None
    raw_version, version_line = rows["oneroster.version"]
    match = re.fullmatch(r"(1\.[012])(\.\d+)?", raw_version)
    if not match:
        log.error(
            MANIFEST,
            version_line,
            "value",
            f"oneroster.version is {quote(raw_version)}; expected 1.0, 1.1 or 1.2.",
        )
        return None
    version = match.group(1)
    system = rows.get("source.systemName", ("", 0))[0] or None
    manifest = Manifest(version, source_system=system)
    used = ("orgs", "users", "roles") if version == "1.2" else ("orgs", "users")
    for name, (value, line) in rows.items():
        if not name.startswith("file."):
            continue
        stem = name.removeprefix("file.")
        file = f"{stem}.csv"
        if value not in MANIFEST_MODES:
            message = f"file.{stem} is {quote(value)}; expected absent, bulk or delta."
            if stem in used:
                log.error(MANIFEST, line, "value", message)
            else:
                log.deviation(MANIFEST, line, "value", message, f"treated as 'absent' ({file} is not read).")
            continue
        present = fs.has(file)
        if value != "absent" and not present:
            other = fs.near_miss(file)
            hint = f" (there is a {other}; file names are case-sensitive)" if other else ""
            log.error(
                MANIFEST, line, "value", f"file.{stem} is '{value}' but {file} is not in the set{hint}."
            )
        elif value == "absent" and present:
            log.deviation(
                MANIFEST,
                line,
                "value",
                f"file.{stem} is 'absent' but {file} is in the set; a file marked absent must be left out.",
                f"{file} was ignored.",
            )
        if stem in used:
            manifest.modes[stem] = Mode(value) if (present or value == "absent") else Mode.ABSENT
    for stem in used:
        if stem not in manifest.modes:
            manifest.modes[stem] = Mode.ABSENT
            if f"file.{stem}" not in rows and fs.has(f"{stem}.csv"):
                log.error(
                    MANIFEST,
                    None,
                    "propertyName",
                    f"has no 'file.{stem}' row although {stem}.csv is in the set; add 'file.{stem}' with "
                    f"bulk or delta.",
                )
    return manifest
