"""An order's shipping address: taken by the API (single and bulk) and validated with the part
at fault named, shown by the API in one key order, kept when a later payload leaves it out,
removed by null, and a change of it is an order change whose event carries no address."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders.models import Order
from orders.schemas import postal_code_normalise
from postpurchase.events.models import Event
from tests.factories import order_payload

pytestmark = pytest.mark.django_db

ADDRESS_IN = {
    "name": " Ada Lovelace ",
    "company": "Analytical Engines Ltd",
    "address1": "12 St James's Square",
    "address2": "Flat 2",
    "city": "London",
    "province_code": "eng",
    "postal_code": "SW1Y 4JH",
    "country_code": "gb",
    "phone": "+44 20 7946 0000",
}
ADDRESS_OUT = {
    "name": "Ada Lovelace",
    "company": "Analytical Engines Ltd",
    "address1": "12 St James's Square",
    "address2": "Flat 2",
    "city": "London",
    "province_code": "ENG",
    "postal_code": "SW1Y 4JH",
    "country_code": "GB",
    "phone": "+44 20 7946 0000",
}


def post(api, **overrides):
    return api.post("/api/v1/orders", order_payload(currency="USD", **overrides), format="json")


def test_the_address_is_stored_and_shown_with_every_key(api_a):
    # when
    response = post(api_a, shipping_address=ADDRESS_IN)

    # then
    assert response.status_code == 201, response.content
    assert response.json()["shipping_address"] == ADDRESS_OUT
    assert list(response.json()["shipping_address"]) == list(ADDRESS_OUT)
    fetched = api_a.get(f"/api/v1/orders/{response.json()['id']}").json()
    assert list(fetched["shipping_address"].items()) == list(ADDRESS_OUT.items())


@pytest.mark.parametrize("address", [None, {}, {"name": "", "postal_code": "  "}])
def test_no_address_or_a_blank_one_is_none(api_a, address):
    # when
    response = post(api_a, shipping_address=address)

    # then
    assert response.status_code == 201, response.content
    assert response.json()["shipping_address"] is None
    assert Order.unscoped.get().shipping_address == {}


def test_an_order_without_the_field_has_no_address(api_a):
    # when
    response = post(api_a)

    # then
    assert response.json()["shipping_address"] is None


@pytest.mark.parametrize(
    ("address", "field", "code"),
    [
        ({"postal_code": "1" * 21}, "shipping_address.postal_code", "string_too_long"),
        ({"country_code": "CAN"}, "shipping_address.country_code", "string_too_long"),
        ({"country_code": "C1"}, "shipping_address.country_code", "string_pattern_mismatch"),
        ({"city": "Ott\x00awa"}, "shipping_address.city", "value_error"),
        ({"address1": "x" * 256}, "shipping_address.address1", "string_too_long"),
        ({"zip": "K1A 0B1"}, "shipping_address.zip", "extra_forbidden"),
        ("1 Wall Street", "shipping_address", "model_type"),
    ],
)
def test_a_bad_address_is_refused_naming_the_part(api_a, address, field, code):
    # when
    response = post(api_a, shipping_address=address)

    # then
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == [field]
    assert errors[field][0]["code"] == code
    assert not Order.unscoped.exists()


def test_a_later_payload_without_the_address_keeps_it_and_null_removes_it(api_a):
    # given
    created = post(api_a, shipping_address=ADDRESS_IN).json()

    # when: a re-delivery that says nothing of the address, then a PATCH of another field
    unsaid = post(api_a)
    patched = api_a.patch(f"/api/v1/orders/{created['id']}", {"tax": "1.00"}, format="json")

    # then
    assert unsaid.status_code == 200
    assert unsaid.json()["shipping_address"] == ADDRESS_OUT
    assert patched.json()["shipping_address"] == ADDRESS_OUT

    # when: null
    removed = api_a.patch(
        f"/api/v1/orders/{created['id']}", {"shipping_address": None}, format="json"
    )

    # then
    assert removed.status_code == 200
    assert removed.json()["shipping_address"] is None
    assert Order.unscoped.get().shipping_address == {}


def test_a_changed_address_records_order_updated_without_the_address(api_a):
    # given
    post(api_a, shipping_address=ADDRESS_IN)

    # when: the same again, then a new postcode
    same = post(api_a, shipping_address=ADDRESS_IN)
    moved = post(api_a, shipping_address={**ADDRESS_IN, "postal_code": "SW1Y 4JJ"})

    # then
    assert same.headers["Ingest-Result"] == "unchanged"
    assert moved.headers["Ingest-Result"] == "updated"
    assert moved.json()["shipping_address"]["postal_code"] == "SW1Y 4JJ"
    assert list(Event.unscoped.order_by("id").values_list("type", flat=True)) == [
        "order.placed",
        "order.updated",
    ]
    for payload in Event.unscoped.values_list("payload", flat=True):
        assert "shipping_address" not in payload
        assert "SW1Y" not in str(payload)


def test_bulk_carries_each_orders_address(api_a):
    # when
    response = api_a.post(
        "/api/v1/orders/bulk",
        {
            "orders": [
                order_payload(currency="USD", external_id="b1", shipping_address=ADDRESS_IN),
                order_payload(currency="USD", external_id="b2", number="#1002"),
            ]
        },
        format="json",
    )

    # then
    assert response.status_code == 200, response.content
    stored = dict(Order.unscoped.values_list("external_id", "shipping_address"))
    assert stored == {"b1": ADDRESS_OUT, "b2": {}}


@pytest.mark.parametrize(
    ("typed", "compared"),
    [
        ("sw1a 1aa", "SW1A1AA"),
        (" SW1A\t1AA ", "SW1A1AA"),
        ("12345-6789", "123456789"),
        ("100-0001", "1000001"),
        ("", ""),
    ],
)
def test_postal_codes_are_compared_in_upper_case_without_spaces_or_hyphens(typed, compared):
    assert postal_code_normalise(typed) == compared


def order_page(client, owner, order_id) -> str:
    client.force_login(owner)
    response = client.get(reverse("dashboard:order_detail", kwargs={"pk": order_id}))
    assert response.status_code == 200
    return response.content.decode()


def test_the_order_page_shows_where_the_order_ships(api_a, owner_a, client):
    # given
    created = post(api_a, shipping_address={**ADDRESS_IN, "address2": "<b>Flat 2</b>"})
    # when
    html = order_page(client, owner_a, created.json()["id"])
    # then: as a label, one part a line, what the store sent escaped
    assert '<div class="card__header"><h2>Ships to</h2></div>' in html
    assert (
        '<address class="address">\n        Ada Lovelace<br>Analytical Engines Ltd<br>'
        "12 St James&#x27;s Square<br>&lt;b&gt;Flat 2&lt;/b&gt;<br>London ENG SW1Y 4JH<br>GB<br>"
        "+44 20 7946 0000\n      </address>"
    ) in html


def test_the_order_page_leaves_the_card_out_without_an_address(api_a, owner_a, client):
    # given: an address with only a city and a country, and an order with none
    partial = post(api_a, shipping_address={"city": "Lyon", "country_code": "fr"})
    none = post(api_a, external_id="ord-2", number="1002")
    # when
    partial_html = order_page(client, owner_a, partial.json()["id"])
    none_html = order_page(client, owner_a, none.json()["id"])
    # then
    assert '<address class="address">\n        Lyon<br>FR\n      </address>' in partial_html
    assert "Ships to" not in none_html
