"""Brand settings: uploading, replacing and removing the logo file."""

from __future__ import annotations

import io
import random
import warnings

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape
from PIL import Image

from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.permissions import Role
from tests.dashboard.test_settings import BRAND


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def image_bytes(image_format: str, size=(8, 8), pixels: bytes | None = None) -> bytes:
    image = (
        Image.frombytes("RGB", size, pixels)
        if pixels is not None
        else Image.new("RGB", size, (37, 99, 235))
    )
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def upload(content: bytes, name="logo.png", content_type="image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored_files(media_root) -> dict[str, bytes]:
    if not media_root.exists():
        return {}
    return {
        str(path.relative_to(media_root)): path.read_bytes()
        for path in sorted(media_root.rglob("*"))
        if path.is_file()
    }


def test_uploaded_logo_is_stored_and_shown_in_the_sidebar(
    merchant_a, owner_a, client_for, media_root
):
    # given
    client = client_for(owner_a)
    png = image_bytes("PNG")

    # when: the browser's file name and type are not what it is stored under
    response = client.post(
        reverse("dashboard:settings_brand"),
        {**BRAND, "logo": upload(png, name="My Logo (final).PNG")},
    )

    # then
    assert response.status_code == 302
    assert Merchant.objects.get(pk=merchant_a.pk).logo.name == "merchant-logos/alpha.png"
    assert stored_files(media_root) == {"merchant-logos/alpha.png": png}
    page = client.get(response["Location"]).content.decode()
    assert '<img class="merchant-logo" src="/media/merchant-logos/alpha.png"' in page
    assert "Brand settings saved." in page


@pytest.mark.parametrize(
    ("image_format", "stored_as"),
    [("JPEG", "alpha.jpg"), ("WEBP", "alpha.webp"), ("GIF", "alpha.gif")],
)
def test_jpeg_webp_and_gif_logos_are_accepted(
    merchant_a, owner_a, client_for, media_root, image_format, stored_as
):
    # given
    content = image_bytes(image_format)

    # when
    response = client_for(owner_a).post(
        reverse("dashboard:settings_brand"),
        {**BRAND, "logo": upload(content, name="logo.img", content_type="image/x-whatever")},
    )

    # then
    assert response.status_code == 302
    assert stored_files(media_root) == {f"merchant-logos/{stored_as}": content}


def blank_png(width: int, height: int) -> bytes:
    """A PNG of any size in pixels that is only bytes to kilobytes long (one bit a pixel, all
    zero, compresses to almost nothing)."""
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def mpo_bytes() -> bytes:
    """What Pillow calls an MPO: a JPEG with a second image after it, as phones and cameras
    write."""
    buffer = io.BytesIO()
    first, second = Image.new("RGB", (8, 8), (37, 99, 235)), Image.new("RGB", (8, 8))
    first.save(buffer, format="MPO", save_all=True, append_images=[second])
    content = buffer.getvalue()
    assert Image.open(io.BytesIO(content)).format == "MPO"
    return content


def test_an_mpo_photo_is_accepted_and_stored_as_a_jpeg(merchant_a, owner_a, client_for, media_root):
    # given
    content = mpo_bytes()

    # when
    response = client_for(owner_a).post(
        reverse("dashboard:settings_brand"),
        {**BRAND, "logo": upload(content, name="IMG_0001.JPG", content_type="image/jpeg")},
    )

    # then
    assert response.status_code == 302
    assert Merchant.objects.get(pk=merchant_a.pk).logo.name == "merchant-logos/alpha.jpg"
    assert stored_files(media_root) == {"merchant-logos/alpha.jpg": content}


def test_a_logo_of_exactly_the_largest_size_in_pixels_is_accepted(
    merchant_a, owner_a, client_for, media_root
):
    # given
    content = blank_png(4096, 4096)

    # when
    response = client_for(owner_a).post(
        reverse("dashboard:settings_brand"), {**BRAND, "logo": upload(content)}
    )

    # then
    assert response.status_code == 302
    assert stored_files(media_root) == {"merchant-logos/alpha.png": content}


def big_png() -> bytes:
    """A real PNG just over 1 MB: noise does not compress."""
    noise = random.Random(7).randbytes(600 * 600 * 3)
    content = image_bytes("PNG", size=(600, 600), pixels=noise)
    assert len(content) > 1024 * 1024
    return content


@pytest.mark.parametrize(
    ("file", "field", "error"),
    [
        (
            lambda: upload(b"<svg onload=alert(1)>", name="logo.png"),
            "logo",
            "Upload a PNG, JPEG, WebP or GIF image; this file is not one.",
        ),
        (
            lambda: upload(b"%PDF-1.7 not a picture", name="logo.pdf", content_type="image/png"),
            "logo",
            "Upload a PNG, JPEG, WebP or GIF image; this file is not one.",
        ),
        (
            lambda: upload(image_bytes("BMP"), name="logo.png"),
            "logo",
            "Upload a PNG, JPEG, WebP or GIF image; this file is BMP.",
        ),
        (
            lambda: upload(big_png()),
            "logo",
            "The logo must be 1 MB or smaller; this file is 1.0 MB.",
        ),
        (
            lambda: upload(blank_png(5000, 10)),
            "logo",
            "The logo must be at most 4096×4096 pixels; this image is 5000×10 pixels.",
        ),
        (
            lambda: upload(blank_png(4097, 4097)),
            "logo",
            "The logo must be at most 4096×4096 pixels; this image is 4097×4097 pixels.",
        ),
        (
            # over Pillow's MAX_IMAGE_PIXELS: its DecompressionBombWarning
            lambda: upload(blank_png(10_000, 10_000)),
            "logo",
            "The logo must be at most 4096×4096 pixels; "
            "this image has too many pixels to open safely.",
        ),
        (
            # over twice that: its DecompressionBombError
            lambda: upload(blank_png(14_000, 14_000)),
            "logo",
            "The logo must be at most 4096×4096 pixels; "
            "this image has too many pixels to open safely.",
        ),
    ],
    ids=[
        "not an image",
        "pdf",
        "bmp",
        "over 1 MB",
        "5000x10 pixels",
        "4097x4097 pixels",
        "decompression bomb warning",
        "decompression bomb error",
    ],
)
def test_a_file_that_is_not_an_accepted_logo_is_refused_and_nothing_changes(
    merchant_a, owner_a, client_for, db_state, media_root, file, field, error
):
    # given
    client = client_for(owner_a)
    before = db_state()

    # when
    response = client.post(reverse("dashboard:settings_brand"), {**BRAND, "logo": file()})

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {field: [error]}
    assert f'<p class="field__error">{escape(error)}</p>' in response.content.decode()
    assert db_state() == before
    assert stored_files(media_root) == {}


@pytest.mark.parametrize("action", ["default", "ignore"])
def test_a_decompression_bomb_is_refused_whatever_the_warning_filters_say(
    merchant_a, owner_a, client_for, db_state, media_root, action
):
    # given: outside the tests (which turn RuntimeWarnings into errors) Pillow's
    # DecompressionBombWarning is only a warning
    client = client_for(owner_a)
    before = db_state()

    # when
    with warnings.catch_warnings():
        warnings.simplefilter(action)
        response = client.post(
            reverse("dashboard:settings_brand"),
            {**BRAND, "logo": upload(blank_png(10_000, 10_000))},
        )

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "logo": [
            "The logo must be at most 4096×4096 pixels; "
            "this image has too many pixels to open safely."
        ]
    }
    assert db_state() == before
    assert stored_files(media_root) == {}


@pytest.fixture
def merchant_with_logo(merchant_a, media_root):
    merchant_a.logo = upload(image_bytes("PNG"), name="alpha.png")
    merchant_a.save()
    return merchant_a


def test_brand_page_shows_the_current_logo_and_a_remove_option(
    merchant_with_logo, owner_a, client_for
):
    # when
    response = client_for(owner_a).get(reverse("dashboard:settings_brand"))

    # then
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert (
        '<img class="merchant-logo" src="/media/merchant-logos/alpha.png" alt="Your current' in html
    )
    assert 'name="remove_logo"' in html
    assert 'accept="image/png,image/jpeg,image/webp,image/gif"' in html


def test_saving_without_a_file_keeps_the_logo(merchant_with_logo, owner_a, client_for, media_root):
    # given
    before = stored_files(media_root)

    # when
    response = client_for(owner_a).post(reverse("dashboard:settings_brand"), BRAND)

    # then
    assert response.status_code == 302
    assert Merchant.objects.get(pk=merchant_with_logo.pk).logo.name == "merchant-logos/alpha.png"
    assert stored_files(media_root) == before


def test_removing_the_logo_falls_back_to_the_logo_url(
    merchant_with_logo, owner_a, client_for, media_root
):
    # given
    client = client_for(owner_a)

    # when
    response = client.post(reverse("dashboard:settings_brand"), {**BRAND, "remove_logo": "on"})

    # then
    assert response.status_code == 302
    merchant = Merchant.objects.get(pk=merchant_with_logo.pk)
    assert (merchant.logo.name, merchant.brand_logo_url) == ("", BRAND["logo_url"])
    page = client.get(response["Location"]).content.decode()
    assert f'<img class="merchant-logo" src="{BRAND["logo_url"]}"' in page
    assert 'name="remove_logo"' not in page
    # the file stays: emails already sent may still show it
    assert list(stored_files(media_root)) == ["merchant-logos/alpha.png"]


def test_a_new_logo_replaces_the_old_one_under_a_new_name(
    merchant_with_logo, owner_a, client_for, media_root
):
    # given
    gif = image_bytes("GIF")

    # when
    response = client_for(owner_a).post(
        reverse("dashboard:settings_brand"), {**BRAND, "logo": upload(gif, name="new.gif")}
    )

    # then
    assert response.status_code == 302
    assert Merchant.objects.get(pk=merchant_with_logo.pk).logo.name == "merchant-logos/alpha.gif"
    assert stored_files(media_root)["merchant-logos/alpha.gif"] == gif


def test_uploading_and_removing_at_once_is_refused(
    merchant_with_logo, owner_a, client_for, db_state, media_root
):
    # given
    before, files_before = db_state(), stored_files(media_root)

    # when
    response = client_for(owner_a).post(
        reverse("dashboard:settings_brand"),
        {**BRAND, "logo": upload(image_bytes("PNG")), "remove_logo": "on"},
    )

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "remove_logo": ["Upload a new logo or remove it, not both."]
    }
    assert db_state() == before
    assert stored_files(media_root) == files_before


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_logo_upload_by_editor_or_viewer_is_403_and_stores_nothing(
    role, merchant_a, member_of, client_for, db_state, media_root
):
    # given
    client = client_for(member_of(merchant_a, role))
    before = db_state()

    # when
    response = client.post(
        reverse("dashboard:settings_brand"), {**BRAND, "logo": upload(image_bytes("PNG"))}
    )

    # then
    assert response.status_code == 403
    assert db_state() == before
    assert stored_files(media_root) == {}
