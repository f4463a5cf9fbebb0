"""Photos are checked by what they hold (their first bytes, and for JPEG, PNG and WebP that
they open as an image), by size and by count; a refused photo files nothing."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from postpurchase.errors import DomainError
from tests.tracking.claims.conftest import jpeg_bytes, png_bytes
from tracking.claims.photos import PHOTO_MAX_BYTES, photos_check, sniff


def upload(content: bytes, name="photo.png", content_type="image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def webp_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (2, 2)).save(out, format="WEBP")
    return out.getvalue()


HEIC_HEAD = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"


def test_types_are_told_by_their_first_bytes():
    assert sniff(png_bytes()[:16]) == "image/png"
    assert sniff(jpeg_bytes()[:16]) == "image/jpeg"
    assert sniff(webp_bytes()[:16]) == "image/webp"
    assert sniff(HEIC_HEAD[:16]) == "image/heic"
    assert sniff(b"GIF89a\x01\x00\x01\x00") is None
    assert sniff(b"%PDF-1.7\n") is None


def test_valid_photos_pass_whatever_their_name_says():
    checked = photos_check(
        [
            upload(png_bytes(), name="a.txt", content_type="text/plain"),
            upload(jpeg_bytes(), name="b.png"),
            upload(webp_bytes()),
            upload(HEIC_HEAD + b"\x00" * 64, name="c.heic"),
        ]
    )
    assert [photo.content_type for photo in checked] == [
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/heic",
    ]


@pytest.mark.parametrize(
    "content",
    [
        b"<html><script>alert(1)</script></html>",
        b"GIF89a" + b"\x00" * 20,
        png_bytes()[:20],  # a PNG signature on a truncated file: does not open
        b"\xff\xd8\xff" + b"not really a jpeg" * 4,
    ],
)
def test_a_file_that_is_not_a_readable_photo_is_refused(content):
    with pytest.raises(DomainError) as caught:
        photos_check([upload(png_bytes()), upload(content, content_type="image/png")])
    assert (caught.value.code, caught.value.field) == ("photo_invalid", "photos")
    assert caught.value.message == (
        "Photo 2 is not a photo we can read. Please send a JPEG, PNG, WebP or HEIC image."
    )


def test_a_photo_over_8_mb_is_refused_and_8_mb_passes():
    exact = HEIC_HEAD + b"\x00" * (PHOTO_MAX_BYTES - len(HEIC_HEAD))
    assert len(photos_check([upload(exact)])) == 1
    with pytest.raises(DomainError) as caught:
        photos_check([upload(exact + b"\x00")])
    assert caught.value.code == "photo_too_large"
    assert caught.value.message == "Photo 1 is larger than 8 MB. Please send a smaller photo."


def test_five_photos_pass_and_six_are_refused():
    assert len(photos_check([upload(png_bytes()) for _ in range(5)])) == 5
    with pytest.raises(DomainError) as caught:
        photos_check([upload(png_bytes()) for _ in range(6)])
    assert (caught.value.code, caught.value.message) == (
        "too_many_photos",
        "Please send at most 5 photos.",
    )
