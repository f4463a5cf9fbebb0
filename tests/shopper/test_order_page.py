"""The shopper's order page (orders/shopper_views.py): where the order stands, its parcels with
the carrier's tracking link, and what was ordered, by a signed link that expires."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from orders.models import Shipment, ShipmentStatus
from orders.shopper_views import order_status_token, order_status_url
from tests.shopper.conftest import make_order


def order_path(order, *, slug=None, merchant_id=None, order_id=None):
    token = order_status_token(
        merchant_id=merchant_id or order.merchant_id, order_id=order_id or order.pk
    )
    return f"/s/{slug or order.merchant.slug}/order/{token}/"


def test_the_page_shows_the_order_its_parcel_and_what_was_ordered(client, order_a):
    # when
    response = client.get(order_path(order_a))

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<title>Order #1001 · Alpha Apparel</title>" in body
    assert "Order #1001 · placed 1 March 2026" in body
    assert "<h1 data-progress>On its way</h1>" in body
    assert "<h2>Your parcel</h2>" in body
    assert "<dd data-parcel-status>In transit</dd>" in body
    assert "<div><dt>Carrier</dt><dd>UPS</dd></div>" in body
    assert "<div><dt>Tracking number</dt><dd>1Z999AA10123456784</dd></div>" in body
    assert "<div><dt>Expected</dt><dd>5 March 2026</dd></div>" in body
    assert (
        '<a class="button button--block" href="https://www.ups.com/track?tracknum=1Z999AA10123456784"'
        ' rel="noopener noreferrer" data-tracking-link>Track with UPS</a>'
    ) in body
    assert "<span>2 × Trail shoe</span><span>$80.00</span>" in body
    assert "<span data-total>$85.00</span>" in body
    assert "ada.lovelace" not in body.lower()
    assert "<script" not in body


@pytest.mark.parametrize(
    ("statuses", "fulfillment", "cancelled", "progress"),
    [
        ([], "unfulfilled", False, "We’re preparing your order"),
        (["info_received"], "fulfilled", False, "Ready to ship"),
        (["delivered", "out_for_delivery"], "fulfilled", False, "Out for delivery"),
        (["delivered"], "fulfilled", False, "Delivered"),
        (["delivered"], "partially_fulfilled", False, "Partly delivered"),
        (["in_transit", "exception"], "fulfilled", False, "There’s a problem with a delivery"),
        (["returned_to_sender"], "fulfilled", False, "A parcel is on its way back to us"),
        (["in_transit"], "fulfilled", True, "Cancelled"),
    ],
)
def test_the_headline_says_where_the_order_stands(
    client, order_a, statuses, fulfillment, cancelled, progress
):
    # given
    Shipment.unscoped.filter(order=order_a).delete()
    for n, status in enumerate(statuses):
        Shipment.unscoped.create(
            merchant=order_a.merchant, order=order_a, external_id=f"s{n}", status=status
        )
    order_a.fulfillment_status = fulfillment
    order_a.cancelled_at = timezone.now() if cancelled else None
    order_a.save()

    # when
    response = client.get(order_path(order_a))

    # then
    assert f"<h1 data-progress>{progress}</h1>" in response.content.decode()


def test_parcels_are_numbered_and_delivered_ones_say_when(client, order_a):
    # given
    Shipment.unscoped.create(
        merchant=order_a.merchant,
        order=order_a,
        external_id="second",
        status=ShipmentStatus.DELIVERED,
        delivered_at=datetime(2026, 3, 4, 15, 0, tzinfo=UTC),
    )

    # when
    body = client.get(order_path(order_a)).content.decode()

    # then
    assert body.count("data-parcel>") == 2
    assert "<h2>Parcel 1</h2>" in body and "<h2>Parcel 2</h2>" in body
    assert "<div><dt>Delivered</dt><dd>4 March 2026</dd></div>" in body
    assert body.count("data-tracking-link") == 1  # the second parcel has no tracking address


def test_a_tracking_address_that_is_not_a_web_page_is_not_linked(client, order_a):
    # given
    Shipment.unscoped.filter(order=order_a).update(tracking_url="javascript:alert(1)")

    # when
    body = client.get(order_path(order_a)).content.decode()

    # then
    assert "data-tracking-link" not in body
    assert "javascript:" not in body


def test_a_link_of_merchant_a_naming_merchant_bs_order_is_not_found(client, order_a, order_b):
    # when: well signed for A, under A's slug, but B's order id
    response = client.get(order_path(order_a, order_id=order_b.pk))

    # then
    assert response.status_code == 404
    assert "Bravo Books" not in response.content.decode()
    assert "#2001" not in response.content.decode()


def test_a_deleted_order_is_not_found(client, order_a):
    # given
    path = order_path(order_a)
    order_a.delete()

    # when
    response = client.get(path)

    # then
    assert response.status_code == 404
    assert "We can’t find that page" in response.content.decode()


def test_the_order_link_put_in_messages_is_absolute(settings, order_a):
    # given
    settings.SITE_URL = "https://post.example"

    # when
    url = order_status_url(merchant=order_a.merchant, order_id=order_a.pk)

    # then
    assert url.startswith("https://post.example/s/alpha/order/")


def test_merchant_bs_order_is_served_under_b_with_bs_brand(client, order_a, merchant_b):
    # given
    order_b = make_order(merchant_b, number="#2001", email="bo@example.org")

    # when
    body = client.get(order_path(order_b)).content.decode()

    # then
    assert "Order #2001 · placed 1 March 2026" in body
    assert '<span class="brandbar__name">Bravo Books</span>' in body
    assert "Alpha Apparel" not in body
