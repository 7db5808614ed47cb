"""Storing an uploaded SIS export (console or API) where the worker's sync can read it."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.text import get_valid_filename

from schoolgate.core.models import District

MAX_UPLOAD = 2 * 1024 * 1024 * 1024  # 2 GB: a million students' OneRoster set is far below


def store_upload(district: District, upload: UploadedFile) -> Path:
    """Write the upload under var/uploads/<district>/ with a timestamped, safe name; the path."""
    folder = Path(settings.VAR_DIR) / "uploads" / district.slug
    folder.mkdir(parents=True, exist_ok=True)
    path = (
        folder / f"{timezone.now():%Y%m%d-%H%M%S-%f}-{get_valid_filename(Path(upload.name or 'upload').name)}"
    )
    with path.open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return path
