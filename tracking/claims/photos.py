"""A claim's photos, checked by what they hold rather than by their name or the browser's word:
the first bytes must be a JPEG, PNG, WebP or HEIC signature, and a JPEG, PNG or WebP must also
open as an image (Pillow reads its header and structure; HEIC, which this Pillow cannot decode,
is taken on its signature). At most ``PHOTOS_MAX`` photos of ``PHOTO_MAX_BYTES`` each."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.core.exceptions import RequestDataTooBig
from django.core.files.base import ContentFile
from django.core.files.uploadhandler import FileUploadHandler
from PIL import Image, UnidentifiedImageError

from postpurchase.errors import DomainError
from tracking.errors import ClaimsErrorCode

PHOTO_MAX_BYTES = 8 * 1024 * 1024
PHOTOS_MAX = 5
ACCEPTED = "image/jpeg,image/png,image/webp,image/heic,image/heif,.heic,.heif"
# HEIF brands of a photo (iPhones write heic; mif1/msf1 are the generic image brands).
HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# A claim's whole request: every photo at its largest, and the form's words.
REQUEST_MAX_BYTES = PHOTOS_MAX * PHOTO_MAX_BYTES + 1024 * 1024


class UploadLimit(FileUploadHandler):
    """Stops a claim's upload past ``REQUEST_MAX_BYTES`` (a 400) before it reaches the disk:
    Django's own limit counts the form's fields, not its files. Put first among the request's
    upload handlers; it passes every chunk on to the next."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.received = 0
        if content_length and content_length > REQUEST_MAX_BYTES:
            raise RequestDataTooBig("A claim's photos are larger than they may be together.")

    def receive_data_chunk(self, raw_data, start):
        self.received = getattr(self, "received", 0) + len(raw_data)
        if self.received > REQUEST_MAX_BYTES:
            raise RequestDataTooBig("A claim's photos are larger than they may be together.")
        return raw_data

    def file_complete(self, file_size):
        return None


@dataclass(frozen=True)
class CheckedPhoto:
    content: bytes
    content_type: str

    def as_file(self) -> ContentFile:
        return ContentFile(self.content, name="photo")


def sniff(head: bytes) -> str | None:
    """The image type the bytes begin with, or ``None``."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIC_BRANDS:
        return "image/heic"
    return None


def photo_check(upload, *, position: int) -> CheckedPhoto:
    """One uploaded file (anything with ``size`` and ``read``), or a ``DomainError`` on the
    ``photos`` field saying which photo and why."""
    label = f"Photo {position}"
    if upload.size > PHOTO_MAX_BYTES:
        raise DomainError(
            ClaimsErrorCode.PHOTO_TOO_LARGE,
            f"{label} is larger than 8 MB. Please send a smaller photo.",
            field="photos",
        )
    content = upload.read(PHOTO_MAX_BYTES + 1)
    if len(content) > PHOTO_MAX_BYTES:  # a size the upload misstated
        raise DomainError(
            ClaimsErrorCode.PHOTO_TOO_LARGE,
            f"{label} is larger than 8 MB. Please send a smaller photo.",
            field="photos",
        )
    content_type = sniff(content[:16])
    if content_type is None or not _opens(content, content_type):
        raise DomainError(
            ClaimsErrorCode.PHOTO_INVALID,
            f"{label} is not a photo we can read. Please send a JPEG, PNG, WebP or HEIC image.",
            field="photos",
        )
    return CheckedPhoto(content=content, content_type=content_type)


def _opens(content: bytes, content_type: str) -> bool:
    expected = PILLOW_FORMATS.get(content_type)
    if expected is None:
        return True  # HEIC: its signature is all we can check here
    try:
        with Image.open(io.BytesIO(content), formats=[expected]) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False
    return True


def photos_check(uploads: list) -> list[CheckedPhoto]:
    """Every photo of a claim, in order; more than ``PHOTOS_MAX`` is refused before any is
    read."""
    if len(uploads) > PHOTOS_MAX:
        raise DomainError(
            ClaimsErrorCode.TOO_MANY_PHOTOS,
            f"Please send at most {PHOTOS_MAX} photos.",
            field="photos",
        )
    return [photo_check(upload, position=index) for index, upload in enumerate(uploads, 1)]
