"""Storing an uploaded SIS export (console or API) where the worker's sync can read it."""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from schoolgate.core.models import District

# 2 GB: a million students' OneRoster set is far below. This bounds what is stored, the compressed size; what
# a zip may expand to when the sync reads it is bounded there (readers/source.py, MAX_MEMBER_SIZE and
# MAX_EXTRACTED_SIZE), so a small upload cannot fill the disk either.
MAX_UPLOAD = 2 * 1024 * 1024 * 1024
MAX_NAME_BYTES = 200  # of a stored file's name: file systems allow 255, and some of that is the folder's own
FALLBACK_NAME = "upload.zip"


def stored_name(uploaded: str | None) -> str:
    """The name an upload is stored under: the admin's own file name, as far as a file system allows.

    The readers name a set by its file name in every problem they report, so the stored file keeps the name
    the admin knows (`store_upload` gives each upload its own folder, so names need not be unique). Only what
    could leave that folder or garble a message goes: any folder part, control and invisible characters.
    """
    name = PurePosixPath((uploaded or "").replace("\\", "/")).name
    name = "".join(char for char in name if char.isprintable())
    if name in ("", ".", ".."):
        return FALLBACK_NAME
    # Too long a name is shortened before its extension, so that ".zip" still ends it.
    suffix = PurePosixPath(name).suffix
    suffix = suffix if len(suffix) <= 10 else ""
    stem = name[: len(name) - len(suffix)]
    while len((stem + suffix).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + suffix


def store_upload(district: District, upload: UploadedFile) -> Path:
    """Write the upload to var/uploads/<district>/<timestamp>-<random>/<its own name>; the path."""
    folder = Path(settings.VAR_DIR) / "uploads" / district.slug
    folder.mkdir(parents=True, exist_ok=True)
    # A fresh folder per upload, named for when it came: the same file name uploaded twice never collides.
    own = Path(tempfile.mkdtemp(prefix=f"{timezone.now():%Y%m%d-%H%M%S-%f}-", dir=folder))
    path = own / stored_name(upload.name)
    with path.open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return path
