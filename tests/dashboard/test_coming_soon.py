"""Areas of the navigation not built yet open a "coming soon" page in the dashboard's shell, and
every page names the favicon (which /favicon.ico also leads to)."""

from __future__ import annotations

import importlib

import pytest
from django.conf import settings
from django.urls import clear_url_caches

import postpurchase.urls
from notifications.links import preferences_token
from postpurchase.tenancy.permissions import Role
from tests.factories import CustomerFactory

SOON = [
    ("customers", "Customers"),
    ("returns", "Returns"),
    ("loyalty", "Loyalty"),
    ("feedback", "Feedback"),
    ("analytics", "Analytics"),
]


@pytest.mark.parametrize(("slug", "label"), SOON)
def test_a_soon_link_opens_its_coming_soon_page_in_the_shell(
    slug, label, merchant_a, member_of, client_for
):
    # given: the least of the roles
    client = client_for(member_of(merchant_a, Role.VIEWER))

    # when
    response = client.get(f"/app/{slug}/")

    # then: the shell (navigation, merchant, sign-out) around the area's page, its link active
    html = response.content.decode()
    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == [
        "dashboard/coming_soon.html",
        "dashboard/base.html",
    ]
    assert f"<h1>{label}</h1>" in html
    assert '<span class="sidebar__merchant-name">Alpha Apparel</span>' in html
    assert (
        f'<a class="nav__link nav__link--soon nav__link--active" href="/app/{slug}/" '
        f'aria-current="page">'
    ) in html
    assert html.count('aria-current="page"') == 1


def test_every_soon_link_in_the_navigation_leads_to_its_page(merchant_a, member_of, client_for):
    # given
    client = client_for(member_of(merchant_a, Role.OWNER))

    # when
    response = client.get("/app/")

    # then
    links = [
        (link.label, link.url)
        for section in response.context["dashboard_navigation"]
        for link in section.links
        if link.is_soon
    ]
    assert links == [(label, f"/app/{slug}/") for slug, label in SOON]
    assert all(client.get(url).status_code == 200 for _, url in links)


def test_a_coming_soon_page_asks_a_visitor_to_sign_in(client):
    # when
    response = client.get("/app/returns/")

    # then
    assert (response.status_code, response["Location"]) == (302, "/app/login/?next=/app/returns/")


def test_an_unknown_dashboard_address_is_still_not_found(merchant_a, member_of, client_for):
    # when
    response = client_for(member_of(merchant_a, Role.OWNER)).get("/app/warehouse/")

    # then
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/app/login/", "/app/password-reset/"])
def test_the_sign_in_pages_name_the_favicon(client, path):
    html = client.get(path).content.decode()

    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html


def test_the_dashboard_names_the_favicon(merchant_a, member_of, client_for):
    html = client_for(member_of(merchant_a, Role.VIEWER)).get("/app/").content.decode()

    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html


def test_the_shopper_pages_name_the_favicon(client, merchant_a):
    # given: a shopper's preference centre link
    customer = CustomerFactory(merchant=merchant_a, email="ada@example.net")
    token = preferences_token(merchant_id=merchant_a.pk, customer_id=customer.pk)

    # when
    response = client.get(f"/s/{merchant_a.slug}/preferences/{token}/")

    # then
    assert response.status_code == 200
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in (
        response.content.decode()
    )


def test_favicon_ico_leads_to_the_svg_icon(client):
    # when
    response = client.get("/favicon.ico")

    # then
    assert (response.status_code, response["Location"]) == (302, "/static/favicon.svg")
    assert response["Cache-Control"] == "max-age=86400"
    icon = (settings.BASE_DIR / "static" / "favicon.svg").read_text()
    assert icon.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">')


@pytest.fixture
def urls_loaded_in_debug(settings):
    """The URL root as runserver loads it in the embedded mode (DEBUG on adds /media/)."""
    settings.DEBUG = True
    importlib.reload(postpurchase.urls)
    clear_url_caches()
    yield
    settings.DEBUG = False
    importlib.reload(postpurchase.urls)
    clear_url_caches()


def test_favicon_ico_leads_to_the_icon_in_the_embedded_mode_too(client, urls_loaded_in_debug):
    # when
    response = client.get("/favicon.ico")

    # then
    assert (response.status_code, response["Location"]) == (302, "/static/favicon.svg")
