"""The shell itself: headers and CSP on every answer, the merchant's brand on the base page, and
its branded 404 for any address under a merchant's slug."""

import re

import pytest

from postpurchase.shopper import views as shopper_views
from postpurchase.shopper.views import SHOPPER_CSP, masked_email
from postpurchase.tenancy.models import Merchant


def test_the_shell_carries_the_merchants_brand(client, merchant_a):
    # given
    merchant_a.primary_colour, merchant_a.accent_colour = "#112233", "#aa5500"
    merchant_a.support_email = "help@alpha.example"
    merchant_a.support_url = "https://help.alpha.example/"
    merchant_a.postal_address = "1 Market St\nSpringfield, IL 62701"
    merchant_a.save()

    # when
    response = client.get("/s/alpha/")

    # then
    body = response.content.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
    assert '<meta name="robots" content="noindex">' in body
    assert "--brand-primary: #112233; --brand-accent: #aa5500;" in body
    assert '<span class="brandbar__name">Alpha Apparel</span>' in body
    assert '<address class="footer__address">1 Market St\nSpringfield, IL 62701</address>' in body
    assert '<a href="mailto:help@alpha.example">help@alpha.example</a>' in body
    assert '<a href="https://help.alpha.example/" rel="noopener">Help centre</a>' in body
    assert "<script" not in body


def test_what_a_merchant_typed_is_shown_as_text(client, merchant_a):
    # given: markup in the name and the address (the templates are Jinja2: escaped by default)
    merchant_a.name = 'Alpha <script>alert("x")</script> & Co'
    merchant_a.postal_address = "<b>1 Market St</b>"
    merchant_a.save()

    # when
    body = client.get("/s/alpha/").content.decode()

    # then
    assert (
        '<span class="brandbar__name">Alpha &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; '
        "&amp; Co</span>" in body
    )
    assert "&lt;b&gt;1 Market St&lt;/b&gt;" in body
    assert "<script" not in body and "<b>" not in body


def brand_name(client) -> str | None:
    response = client.get("/s/alpha/")
    if response.status_code == 404:
        return None
    return re.search(r'<span class="brandbar__name">(.*?)</span>', response.content.decode())[1]


def test_a_merchant_saved_here_shows_at_once(client, merchant_a):
    assert brand_name(client) == "Alpha Apparel"

    merchant_a.name = "Alpha Outfitters"
    merchant_a.save()

    assert brand_name(client) == "Alpha Outfitters"


def test_a_merchant_changed_by_another_process_shows_within_the_setting(
    client, merchant_a, monkeypatch, settings
):
    # given: this process has read the merchant; another changes it (no signal here)
    settings.SHOPPER_MERCHANT_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(shopper_views.time, "monotonic", lambda: clock[0])
    assert brand_name(client) == "Alpha Apparel"
    Merchant.objects.filter(pk=merchant_a.pk).update(name="Alpha Outfitters")

    # then: the row read 4.9 s ago is still used, and read again at 5 s
    clock[0] += 4.9
    assert brand_name(client) == "Alpha Apparel"
    clock[0] += 0.1
    assert brand_name(client) == "Alpha Outfitters"

    # and a merchant switched off elsewhere has no pages once its row is read again
    Merchant.objects.filter(pk=merchant_a.pk).update(is_active=False)
    clock[0] += 5
    assert brand_name(client) is None


def test_the_shell_shows_the_logo_instead_of_the_name(client, merchant_a):
    # given
    merchant_a.logo_url = "https://cdn.alpha.example/logo.png"
    merchant_a.save()

    # when
    body = client.get("/s/alpha/").content.decode()

    # then
    assert (
        '<img class="brandbar__logo" src="https://cdn.alpha.example/logo.png" alt="Alpha Apparel">'
        in body
    )
    assert "brandbar__name" not in body


@pytest.mark.parametrize(
    ("path", "status", "referrer_policy"),
    [
        ("/s/alpha/", 200, "same-origin"),
        ("/s/alpha/no/such/page/", 404, "no-referrer"),
        ("/s/nobody/", 404, "no-referrer"),
        ("/s/alpha/order/not-a-token/", 404, "no-referrer"),
    ],
)
def test_every_answer_is_neither_kept_nor_indexed_nor_referred(
    client, merchant_a, path, status, referrer_policy
):
    # when
    response = client.get(path)

    # then
    assert response.status_code == status
    assert response["Cache-Control"] == "no-store"
    assert response["X-Robots-Tag"] == "noindex"
    assert response["Content-Security-Policy"] == SHOPPER_CSP
    assert response["Referrer-Policy"] == referrer_policy


def test_the_csp_allows_no_script_and_no_framing():
    # then
    assert SHOPPER_CSP == (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def test_an_unknown_address_under_a_merchant_is_its_branded_404(client, merchant_a):
    # when
    response = client.get("/s/alpha/tracking/123/")

    # then
    body = response.content.decode()
    assert response.status_code == 404
    assert "<h1>We can’t find that page</h1>" in body
    assert '<span class="brandbar__name">Alpha Apparel</span>' in body


def test_an_address_without_its_slash_is_sent_to_it_first(client, merchant_a):
    # when
    response = client.get("/s/alpha/preferences/abc")

    # then
    assert response.status_code == 301
    assert response["Location"] == "/s/alpha/preferences/abc/"


def test_an_unknown_merchant_gets_the_404_without_any_brand(client, merchant_a):
    # when
    body = client.get("/s/nobody/whatever/").content.decode()

    # then
    assert "<h1>We can’t find that page</h1>" in body
    assert "brandbar__name" not in body
    assert "<footer" not in body


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("ada@example.net", "a•••@example.net"),
        ("a@b.c", "a•••@b.c"),
        ("@example.net", ""),
        ("no-at-sign", ""),
        ("", ""),
    ],
)
def test_an_email_is_shown_masked(email, masked):
    # then
    assert masked_email(email) == masked


def test_a_shopper_page_runs_without_session_user_or_messages(
    client, merchant_a, django_user_model
):
    # given: a signed-in member (the session cookie is sent along to the shopper page too)
    user = django_user_model.objects.create_user(email="staff@alpha.example", password="x")
    client.force_login(user)

    # when
    shopper = client.get("/s/alpha/")
    head = client.head("/s/alpha/")
    dashboard = client.get("/app/login/")

    # then: the shopper page never loaded them (postpurchase/shopper/middleware.py), nor set a
    # session cookie; the dashboard did
    assert (shopper.status_code, head.status_code, head.content) == (200, 200, b"")
    request = shopper.wsgi_request
    assert [hasattr(request, name) for name in ("session", "user", "_messages")] == [False] * 3
    assert "sessionid" not in shopper.cookies
    request = dashboard.wsgi_request
    assert [hasattr(request, name) for name in ("session", "user", "_messages")] == [True] * 3
    assert request.user == user


def test_a_page_without_get_refuses_head(rf, merchant_a):
    # given: a shopper view that only takes a form
    class PostOnly(shopper_views.ShopperView):
        def post(self, request):
            raise AssertionError("not called")

    # when
    response = PostOnly.as_view()(rf.head("/s/alpha/x/"), merchant_slug="alpha")

    # then
    assert (response.status_code, response["Allow"]) == (405, "POST, OPTIONS")
    assert "head" not in vars(shopper_views.OrderLookupView())  # HEAD is GET, on the class
