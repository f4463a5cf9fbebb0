"""The order lookup: order number + email, or + the postal code the order ships to, finds the
order and goes on to its signed page; "no such order", "wrong email" and "wrong postal code" are
one answer; attempts are limited per client address and per order number, found or not."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postpurchase.shopper import lookup
from postpurchase.shopper.lookup import LookupDestination, order_number_normalise
from postpurchase.shopper.tokens import link_read
from tests.shopper.conftest import make_order, without_csrf
from tracking.links import TRACKING_PAGE

NOT_FOUND = (
    "We couldn’t find an order with that number and email address or postal code. "
    "Check both and try again."
)


def find(client, number, contact, *, slug="alpha", ip="203.0.113.7", destination=""):
    """Post the lookup form; ``contact`` is what the shopper types: an email or a postal code."""
    return client.post(
        f"/s/{slug}/",
        {"number": number, "contact": contact, "destination": destination},
        REMOTE_ADDR=ip,
    )


def token_of(location):
    return location.rstrip("/").rsplit("/", 1)[1]


@pytest.fixture
def limits(settings):
    settings.SHOPPER_LOOKUP_RATE_PER_IP = "4/h"
    settings.SHOPPER_LOOKUP_RATE_PER_ORDER = "3/h"


def test_the_lookup_page_is_a_csrf_form_under_the_merchants_brand(client, merchant_a):
    # when
    response = client.get("/s/alpha/")

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Find your order</h1>" in body
    assert 'name="csrfmiddlewaretoken"' in body
    assert '<span class="brandbar__name">Alpha Apparel</span>' in body
    assert response["Referrer-Policy"] == "same-origin"  # the form's CSRF check needs the origin


@pytest.mark.parametrize("number", ["#1001", "1001", " #1001 ", "# 1001"])
@pytest.mark.parametrize("email", ["Ada.Lovelace@example.net", "ada.lovelace@EXAMPLE.net "])
def test_number_and_email_find_the_order_and_send_the_shopper_to_its_page(
    client, order_a, number, email
):
    # when: the tracking page is the default destination, above the plain order page
    response = find(client, number, email)

    # then
    assert response.status_code == 303
    assert response["Location"].startswith("/s/alpha/track/")
    token = token_of(response["Location"])
    assert link_read(token, purpose=TRACKING_PAGE, merchant_id=order_a.merchant_id) == {
        "m": order_a.merchant_id,
        "o": order_a.pk,
    }
    assert client.get(response["Location"]).status_code == 200


def test_no_such_order_and_a_wrong_email_are_the_same_answer(client, order_a):
    # when
    unknown = find(client, "#9999", "ada.lovelace@example.net")
    wrong = find(client, "#9999", "ada.lovelace@example.net")
    wrong_email = find(client, "#1001", "eve@example.net")
    unknown_again = find(client, "#1001", "eve@example.net")

    # then: the same status and page, but for what was typed
    assert (unknown.status_code, wrong_email.status_code) == (200, 200)
    assert NOT_FOUND in unknown.content.decode()
    assert without_csrf(unknown.content) == without_csrf(wrong.content)
    assert without_csrf(wrong_email.content) == without_csrf(unknown_again.content)
    assert without_csrf(unknown.content).replace(b"9999", b"1001").replace(
        b"ada.lovelace", b"eve"
    ) == without_csrf(wrong_email.content)
    assert dict(unknown.headers) | {"Content-Length": ""} == dict(wrong_email.headers) | {
        "Content-Length": ""
    }


def test_no_such_order_and_a_wrong_email_take_the_same_queries(client, order_a, settings):
    # given: the merchant read on every request (not kept from the first)
    settings.SHOPPER_MERCHANT_SECONDS = 0

    # when
    with CaptureQueriesContext(connection) as unknown:
        find(client, "#9999", "ada.lovelace@example.net")
    with CaptureQueriesContext(connection) as wrong_email:
        find(client, "#1001", "eve@example.net")

    # then: the same statements, but for the number typed
    def shapes(queries, number):
        return [q["sql"].replace(f"'#{number}'", "?").replace(f"'{number}'", "?") for q in queries]

    assert shapes(unknown.captured_queries, "9999") == shapes(wrong_email.captured_queries, "1001")
    assert len(unknown.captured_queries) == 2  # the merchant, the order with its customer's email


@pytest.mark.parametrize("postal_code", ["SW1A 1AA", "sw1a1aa", " Sw1A-1aA "])
def test_number_and_postal_code_find_the_order(client, order_a, postal_code):
    # when: a gift's recipient knows the postcode, not the buyer's email
    response = find(client, "1001", postal_code)

    # then
    assert response.status_code == 303
    token = token_of(response["Location"])
    assert link_read(token, purpose=TRACKING_PAGE, merchant_id=order_a.merchant_id) == {
        "m": order_a.merchant_id,
        "o": order_a.pk,
    }


def test_a_wrong_postal_code_is_the_same_answer_as_no_such_order(client, order_a):
    # when
    wrong_postal_code = find(client, "#1001", "SW1A 2AA")
    unknown = find(client, "#9999", "SW1A 2AA")
    wrong_email = find(client, "#1001", "eve@example.net")

    # then: one page, but for what was typed
    assert (wrong_postal_code.status_code, unknown.status_code) == (200, 200)
    assert NOT_FOUND in wrong_postal_code.content.decode()
    assert without_csrf(unknown.content).replace(b"9999", b"1001") == without_csrf(
        wrong_postal_code.content
    )
    assert without_csrf(wrong_postal_code.content).replace(
        b'value="SW1A 2AA"', b'value="eve@example.net"'
    ) == without_csrf(wrong_email.content)


def test_a_postal_code_and_an_email_take_the_same_queries(client, order_a, settings):
    # given: the merchant read on every request (not kept from the first)
    settings.SHOPPER_MERCHANT_SECONDS = 0

    # when
    with CaptureQueriesContext(connection) as by_postal_code:
        find(client, "#1001", "SW1A 2AA")
    with CaptureQueriesContext(connection) as by_email:
        find(client, "#1001", "eve@example.net")

    # then
    assert [q["sql"] for q in by_postal_code.captured_queries] == [
        q["sql"] for q in by_email.captured_queries
    ]


@pytest.mark.parametrize("order_postal_code", ["", "K1A 0B1"])
def test_a_postal_code_never_finds_an_order_without_that_one(client, merchant_a, order_postal_code):
    # given: an order shipping nowhere (a gift card), and one shipping to Ottawa
    make_order(merchant_a, number="#77", email="x@example.net", postal_code=order_postal_code)

    # when
    typed_blank_like = find(client, "#77", "-")
    typed_other = find(client, "#77", "SW1A 1AA")

    # then
    assert typed_blank_like.status_code == 200
    assert "Enter an email address or a postal code." in typed_blank_like.content.decode()
    assert typed_other.status_code == 200
    assert NOT_FOUND in typed_other.content.decode()


def test_an_email_never_matches_the_postal_code_or_the_reverse(client, order_a):
    # when
    postal_code_as_email = find(client, "#1001", "sw1a1aa@example.net")
    email_as_postal_code = find(client, "#1001", "AdaLovelace")

    # then
    assert NOT_FOUND in postal_code_as_email.content.decode()
    assert NOT_FOUND in email_as_postal_code.content.decode()


def test_postal_code_and_email_tries_share_the_order_limit(client, order_a, limits):
    # when: wrong postcodes and a wrong email on one number, from three addresses
    answers = [
        find(client, "#1001", contact, ip=f"198.51.100.{n}").status_code
        for n, contact in enumerate(("10001", "eve@example.net", "90210"))
    ]
    fourth = find(client, "#1001", "SW1A 1AA", ip="198.51.100.9")

    # then: the fourth is refused even with the right postcode
    assert answers == [200, 200, 200]
    assert fourth.status_code == 429


def test_another_merchants_order_is_not_found(client, order_a, merchant_b):
    # when
    response = find(client, "#1001", "ada.lovelace@example.net", slug="bravo")

    # then
    assert response.status_code == 200
    assert NOT_FOUND in response.content.decode()
    assert "Bravo Books" in response.content.decode()


def test_an_order_without_a_customer_is_never_found(client, order_a):
    # given
    order_a.customer = None
    order_a.save()

    # when
    response = find(client, "#1001", "ada.lovelace@example.net")

    # then
    assert response.status_code == 200
    assert NOT_FOUND in response.content.decode()


def test_a_form_error_is_shown_and_counts_nothing(client, order_a, limits):
    # when
    for _ in range(5):
        response = find(client, "", "not@an address")

    # then
    assert response.status_code == 200
    body = response.content.decode()
    assert "This field is required." in body
    assert "Enter a valid email address." in body
    assert find(client, "#1001", "ada.lovelace@example.net").status_code == 303


def test_one_order_number_is_tried_three_times_an_hour_from_any_address(client, order_a, limits):
    # when: three wrong emails from three addresses
    answers = [
        find(client, "#1001", f"guess{n}@example.net", ip=f"198.51.100.{n}").status_code
        for n in range(3)
    ]
    fourth = find(client, "#1001", "ada.lovelace@example.net", ip="198.51.100.9")
    other_order = find(client, "#1002", "ada.lovelace@example.net", ip="198.51.100.9")
    other_merchant = find(client, "#1001", "ada.lovelace@example.net", slug="bravo")

    # then: the fourth is refused even with the right email, before the finder runs
    assert answers == [200, 200, 200]
    assert fourth.status_code == 429
    assert 0 < int(fourth["Retry-After"]) <= 3600
    assert "Too many tries. Please try again in" in fourth.content.decode()
    assert NOT_FOUND not in fourth.content.decode()
    assert other_order.status_code == 200  # another number counts apart
    assert other_merchant.status_code == 404  # bravo does not exist in this test


def test_a_number_typed_with_or_without_its_hash_counts_as_one(client, order_a, limits):
    # when
    for number in ("#1001", "1001", " # 1001"):
        find(client, number, "eve@example.net", ip=f"198.51.100.{len(number)}")
    fourth = find(client, "1001", "ada.lovelace@example.net", ip="198.51.100.50")

    # then
    assert fourth.status_code == 429


def test_one_address_looks_up_four_times_an_hour_found_or_not(client, order_a, limits):
    # when: a found order counts too
    answers = [find(client, "#1001", "ada.lovelace@example.net").status_code]
    answers += [find(client, f"#{n}", "eve@example.net").status_code for n in (2001, 2002, 2003)]
    fifth = find(client, "#2004", "eve@example.net")
    elsewhere = find(client, "#2005", "eve@example.net", ip="192.0.2.1")

    # then
    assert answers == [303, 200, 200, 200]
    assert fifth.status_code == 429
    assert elsewhere.status_code == 200


def test_the_limit_holds_across_merchants_for_one_address(client, order_a, order_b, limits):
    # when
    for number in ("#1", "#2", "#3"):
        find(client, number, "eve@example.net")
    on_b = find(client, "#2001", "bo@example.org", slug="bravo")
    again_on_b = find(client, "#2001", "bo@example.org", slug="bravo")

    # then
    assert on_b.status_code == 303
    assert again_on_b.status_code == 429


def test_a_named_destination_gets_the_found_order(client, order_a):
    # given: a pillar's page for a found order
    seen = []

    def path_for(*, merchant, order_id):
        seen.append((merchant.slug, order_id))
        return f"/s/{merchant.slug}/returns/start/"

    lookup.lookup_destination_register(LookupDestination(name="returns", path_for=path_for))
    try:
        # when
        page = client.get("/s/alpha/?for=returns")
        named = find(client, "#1001", "ada.lovelace@example.net", destination="returns")
        default = find(client, "#1001", "ada.lovelace@example.net", destination="nothing")
        odd = find(client, "#1001", "ada.lovelace@example.net", destination="<not a name>")
    finally:
        lookup.lookup_destination_unregister("returns")

    # then
    assert 'name="destination" value="returns"' in page.content.decode()
    assert named["Location"] == "/s/alpha/returns/start/"
    assert seen == [("alpha", order_a.pk)]
    assert default["Location"].startswith("/s/alpha/track/")
    assert odd["Location"].startswith("/s/alpha/track/")


def test_the_default_destination_is_the_highest_priority(client, order_a):
    # given: a page registered above the tracking page (10), itself above the order page (0)
    lookup.lookup_destination_register(
        LookupDestination(name="above", path_for=lambda **kw: "/s/alpha/above/", priority=20)
    )
    try:
        # when
        response = find(client, "#1001", "ada.lovelace@example.net")
    finally:
        lookup.lookup_destination_unregister("above")  # (never a real app's destination)

    # then
    assert response["Location"] == "/s/alpha/above/"
    assert lookup.lookup_destination().name == "tracking"


@pytest.mark.parametrize(
    ("typed", "number"),
    [("#1001", "1001"), (" 1001 ", "1001"), ("# A-17", "A-17"), ("##5", "5"), ("#", "")],
)
def test_order_numbers_are_compared_without_their_hash(typed, number):
    # when / then
    assert order_number_normalise(typed) == number
