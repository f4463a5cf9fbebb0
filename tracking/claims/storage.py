"""Where claim photos are kept: a file storage that has no public address.

Shoppers' photos of a damaged parcel (their door, their hall) are for the merchant's eyes only,
so they are not in ``MEDIA_ROOT`` (served at ``/media/`` in development, and often public in
production); they live under ``PRIVATE_MEDIA_ROOT`` (default ``VAR_DIR/private-media``), in a
folder per merchant, and the dashboard serves them to the merchant's signed-in members
(``tracking.claims.dashboard_views.ClaimPhotoView``). A deployment on object storage points the
setting at a mounted bucket or replaces this storage; nothing else names the place.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage


def private_media_root() -> str:
    root = getattr(settings, "PRIVATE_MEDIA_ROOT", None)
    return str(root or Path(settings.VAR_DIR) / "private-media")


class PrivateFileStorage(FileSystemStorage):
    """A file system storage without a URL, whose folder is read from the settings on each use
    (a test's ``VAR_DIR`` is honoured)."""

    def __init__(self) -> None:
        super().__init__(base_url=None)

    @property
    def base_location(self) -> str:  # type: ignore[override]
        return private_media_root()

    @property
    def location(self) -> str:  # type: ignore[override]
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise ValueError("claim photos have no public address")


_storage = PrivateFileStorage()


def claim_photo_storage() -> PrivateFileStorage:
    """The storage of ``ClaimPhoto.file`` (a callable, so migrations name it, not a path)."""
    return _storage
