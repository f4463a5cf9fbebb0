"""The tracking page's opt-in to updates (tracking/updates.py) and its bought-together
suggestions (tracking/pairings.py): consent recorded with its words and source, addresses
checked and bounded, updates sent on the order's shipment events; pairs counted from orders,
each suggestion's views and clicks counted."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from notifications.defaults import message_templates_install_defaults
from notifications.models import Message
from orders.models import Shipment, ShipmentStatus
from postpurchase.events.services import event_record
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    shipment_payload,
)
from tracking import counters
from tracking.links import tracking_token
from tracking.models import (
    ProductPairing,
    ShipmentPageViews,
    SuggestionStats,
    TrackingSubscription,
)
from tracking.pairings import pairings_refresh
from tracking.updates import CONSENT_AGREE, SMS_TERMS, updates_handle_event

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.fixture
def order(merchant_a):
    customer = CustomerFactory(merchant=merchant_a, email="ada@example.net", first_name="Ada")
    order = OrderFactory(merchant=merchant_a, customer=customer, number="#1001")
    OrderLineFactory(order=order, title="Trail shoe", quantity=1)
    return order


def page(order):
    return _page(order.merchant.slug, order.merchant_id, order.pk)


@functools.lru_cache
def _page(slug, merchant_id, order_id):
    """One link per order (a token signed in another second is another string)."""
    return f"/s/{slug}/track/{tracking_token(merchant_id=merchant_id, order_id=order_id)}/"


def subscribe(client, order, channel, address, *, consent=True, ip="203.0.113.9"):
    data = {"action": "subscribe", "channel": channel, f"{channel}_address": address}
    if consent:
        data["consent"] = "yes"
    return client.post(page(order), data, REMOTE_ADDR=ip)


def subscriptions():
    return list(
        TrackingSubscription.unscoped.order_by("pk").values_list(
            "channel", "address", "consent_text", "source", "consented_at", "stopped_at"
        )
    )


def test_a_shopper_asks_for_texts_and_the_consent_is_recorded_as_shown(client, order, frozen):
    # when: a national number, read in the merchant's country (US)
    response = subscribe(client, order, "sms", "(415) 555-0123")

    # then
    assert response.status_code == 303
    assert response["Location"] == page(order) + "?updates=on"
    assert subscriptions() == [
        ("sms", "+14155550123", f"{CONSENT_AGREE} {SMS_TERMS}", "tracking_page", NOW, None)
    ]
    body = client.get(response["Location"]).content.decode()
    assert "You’ll get this order’s updates." in body
    assert "<span>SMS to •••0123</span>" in body
    assert CONSENT_AGREE in body and SMS_TERMS in body


@pytest.mark.parametrize(
    ("channel", "address", "consent", "field", "error"),
    [
        ("sms", "+14155550123", False, "sms", "Tick the box to agree to the updates."),
        ("sms", "12", True, "sms", None),
        ("email", "not-an-email", True, "email", None),
        (
            "email",
            "ADA@example.net",
            True,
            "email",
            "This order’s updates already go to that address.",
        ),
        ("fax", "+14155550123", True, None, "Choose email or text message."),
        # empty: the outbox would send to the customer's own number instead
        ("sms", "  ", True, "sms", "Enter a mobile number."),
        ("email", "", True, "email", "Enter an email address."),
        # of neither the store's country (US) nor the delivery's (none given)
        (
            "sms",
            "+33612345678",
            True,
            "sms",
            "Texts go to numbers of the store’s or the delivery’s country.",
        ),
        (
            "sms",
            "+19005550123",
            True,
            "sms",
            "This number cannot receive texts from us.",
        ),  # premium
    ],
)
def test_a_bad_request_names_the_field_and_records_nothing(
    client, order, channel, address, consent, field, error
):
    # when
    response = subscribe(client, order, channel, address, consent=consent)

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert subscriptions() == []
    if field is None:
        assert f"data-form-error>{error}</div>" in body
    else:
        assert f'data-field-error="{field}">' in body
        if error:
            assert f'data-field-error="{field}">{error}</p>' in body


def test_an_order_sends_to_three_addresses_at_most_and_a_stopped_one_can_be_stopped_once(
    client, order, merchant_b
):
    # given
    for address in ("+14155550101", "+14155550102", "+14155550103"):
        assert subscribe(client, order, "sms", address).status_code == 303

    # when
    fourth = subscribe(client, order, "email", "gift@example.org")
    first = TrackingSubscription.unscoped.order_by("pk").first()
    stopped = client.post(page(order), {"action": "stop", "subscription": str(first.pk)})
    again = client.post(page(order), {"action": "stop", "subscription": str(first.pk)})
    now_fits = subscribe(client, order, "email", "gift@example.org")

    # then
    assert "An order can send its updates to 3 addresses at most." in fourth.content.decode()
    assert stopped["Location"].endswith("?updates=off")
    assert again["Location"].endswith("?updates=")
    assert now_fits.status_code == 303
    assert [(c, a, s is None) for c, a, _, _, _, s in subscriptions()] == [
        ("sms", "+14155550101", False),
        ("sms", "+14155550102", True),
        ("sms", "+14155550103", True),
        ("email", "gift@example.org", True),
    ]


def test_an_order_is_sent_to_six_addresses_in_all(client, order):
    # given: six subscribed, each stopped in turn
    for n in range(6):
        assert subscribe(client, order, "sms", f"+1415555020{n}").status_code == 303
        TrackingSubscription.unscoped.filter(stopped_at__isnull=True).update(stopped_at=NOW)

    # when
    seventh = subscribe(client, order, "sms", "+14155550299")
    again = subscribe(client, order, "sms", "+14155550200")  # one of the six, back on

    # then
    assert "6 addresses at most, stopped ones included." in seventh.content.decode()
    assert again.status_code == 303
    assert TrackingSubscription.unscoped.count() == 6


def test_another_orders_subscription_cannot_be_stopped_from_this_page(client, order, merchant_a):
    # given
    other = OrderFactory(merchant=merchant_a, number="#1002")
    subscribe(client, other, "sms", "+14155550199")
    theirs = TrackingSubscription.unscoped.get()

    # when
    response = client.post(page(order), {"action": "stop", "subscription": str(theirs.pk)})

    # then
    assert response.status_code == 303
    assert TrackingSubscription.unscoped.get().stopped_at is None


def test_the_form_is_throttled_per_address(client, order, settings):
    settings.SHOPPER_LOOKUP_RATE_PER_IP = "2/h"
    codes = [subscribe(client, order, "sms", f"+1415555010{n}").status_code for n in range(3)]
    assert codes == [303, 303, 429]
    assert len(subscriptions()) == 2


def test_a_shipment_event_sends_the_status_message_to_each_live_subscription(
    client, order, merchant_a
):
    # given: texts to one number, email to a gift's recipient, a third stopped
    message_templates_install_defaults(merchant=merchant_a)
    for channel, address in (("sms", "+14155550123"), ("email", "gift@example.org")):
        subscribe(client, order, channel, address)
    subscribe(client, order, "sms", "+14155550999")
    TrackingSubscription.unscoped.filter(address="+14155550999").update(stopped_at=NOW)
    shipment = Shipment.unscoped.create(
        merchant=merchant_a,
        order=order,
        external_id="shp-1",
        carrier="UPS",
        tracking_number="1Z1",
        status=ShipmentStatus.OUT_FOR_DELIVERY,
        status_changed_at=NOW,
    )

    # when: the event, handed to the consumer twice (a re-delivery)
    with merchant_scope(merchant_a):
        event, _ = event_record(
            merchant=merchant_a,
            type="shipment.out_for_delivery",
            customer=order.customer,
            payload=shipment_payload(shipment, type="shipment.out_for_delivery"),
        )
        updates_handle_event(event)
        updates_handle_event(event)

    # then
    sent = Message.unscoped.order_by("to").values_list("channel", "to", "idempotency_key")
    keys = {s.address: s.pk for s in TrackingSubscription.unscoped.all()}
    assert list(sent) == [
        ("sms", "+14155550123", f"tracking-update:{keys['+14155550123']}:{event.pk}"),
        ("email", "gift@example.org", f"tracking-update:{keys['gift@example.org']}:{event.pk}"),
    ]
    # to someone who holds the link: nothing of the customer's, none of their consent links
    email = Message.unscoped.get(channel="email")
    assert email.customer_id is None
    assert "<p>Hi there,</p>" in email.html
    assert "Ada" not in email.html and "ada@example.net" not in email.html
    assert "/preferences/" not in email.html and "/unsubscribe/" not in email.html
    sms = Message.unscoped.get(channel="sms")
    assert sms.sms.startswith("Alpha Apparel: your order #1001 is out for delivery today. ")
    assert "/s/alpha/track/" in sms.sms and f"?parcel={shipment.pk}" in sms.sms


def test_an_event_of_another_kind_or_from_history_sends_nothing(client, order, merchant_a):
    message_templates_install_defaults(merchant=merchant_a)
    subscribe(client, order, "sms", "+14155550123")
    shipment = Shipment.unscoped.create(
        merchant=merchant_a, order=order, external_id="shp-1", carrier="UPS"
    )
    with merchant_scope(merchant_a):
        created, _ = event_record(
            merchant=merchant_a,
            type="shipment.created",
            payload=shipment_payload(shipment, type="shipment.created"),
        )
        history, _ = event_record(
            merchant=merchant_a,
            type="shipment.delivered",
            payload=shipment_payload(shipment, type="shipment.delivered"),
        )
        history.is_history = True
        updates_handle_event(created)
        updates_handle_event(history)
    assert Message.unscoped.count() == 0


# --- bought together ---------------------------------------------------------------------------


def basket(merchant, number, products, *, placed_at=NOW - timedelta(days=10), cancelled=False):
    order = OrderFactory(
        merchant=merchant,
        number=number,
        placed_at=placed_at,
        cancelled_at=placed_at if cancelled else None,
    )
    for position, product in enumerate(products):
        OrderLineFactory(order=order, product=product, title=product.title, position=position)
    return order


@pytest.fixture
def catalogue(merchant_a):
    return {
        name: ProductFactory(
            merchant=merchant_a, title=name.title(), url=f"https://shop.example/{name}"
        )
        for name in ("shoe", "sock", "lace", "cap", "bag")
    }


def test_pairs_are_counted_from_orders_and_one_basket_suggests_nothing(merchant_a, catalogue):
    # given: shoe+sock three times (once twice in one order), shoe+lace twice, shoe+cap once,
    # shoe+bag twice but one of them cancelled and the other a year and more ago
    p = catalogue
    basket(merchant_a, "1", [p["shoe"], p["sock"], p["sock"]])
    basket(merchant_a, "2", [p["shoe"], p["sock"], p["lace"]])
    basket(merchant_a, "3", [p["shoe"], p["sock"], p["lace"]])
    basket(merchant_a, "4", [p["shoe"], p["cap"]])
    basket(merchant_a, "5", [p["shoe"], p["bag"]], cancelled=True)
    basket(merchant_a, "6", [p["shoe"], p["bag"]], placed_at=NOW - timedelta(days=366))

    # when
    kept = pairings_refresh(merchant=merchant_a, now=NOW)

    # then
    names = {product.pk: name for name, product in p.items()}
    rows = ProductPairing.unscoped.values_list("product_id", "other_id", "orders")
    assert kept == 6
    assert sorted((names[a], names[b], n) for a, b, n in rows) == [
        ("lace", "shoe", 2),
        ("lace", "sock", 2),
        ("shoe", "lace", 2),
        ("shoe", "sock", 3),
        ("sock", "lace", 2),
        ("sock", "shoe", 3),
    ]


def test_the_page_suggests_what_others_bought_and_counts_views_and_clicks(
    client, merchant_a, catalogue, frozen
):
    # given
    p = catalogue
    for n in range(3):
        basket(merchant_a, f"s{n}", [p["shoe"], p["sock"], p["lace"]])
    basket(merchant_a, "c1", [p["shoe"], p["cap"]])
    basket(merchant_a, "c2", [p["shoe"], p["cap"]])
    pairings_refresh(merchant=merchant_a, now=NOW)
    mine = basket(merchant_a, "#5000", [p["shoe"], p["lace"]])

    # when
    body = client.get(page(mine)).content.decode()
    click = client.get(page(mine) + f"?go={p['sock'].pk}")
    not_suggested = client.get(page(mine) + f"?go={p['bag'].pk}")

    # then: sock (3 orders with shoe, 3 with lace), then cap; not lace, already in the order
    assert body.count("data-suggestion>") == 2
    assert body.index(">Sock</a>") < body.index(">Cap</a>")
    assert ">Lace</a>" not in body
    assert click.status_code == 302 and click["Location"] == "https://shop.example/sock"
    assert not_suggested.status_code == 200
    counters.flush()
    stats = SuggestionStats.unscoped.values_list("product_id", "views", "clicks")
    # (the page shown again for the product it does not suggest counts a second view)
    assert sorted(stats) == sorted([(p["sock"].pk, 2, 1), (p["cap"].pk, 2, 0)])


def test_a_basket_over_the_limit_yields_no_pairs(merchant_a, catalogue, monkeypatch):
    # given: baskets of three products are over a limit of two
    monkeypatch.setattr("tracking.pairings.MAX_BASKET", 2)
    p = catalogue
    for n in range(2):
        basket(merchant_a, f"big{n}", [p["shoe"], p["sock"], p["lace"]])
        basket(merchant_a, f"small{n}", [p["cap"], p["bag"]])

    # when
    kept = pairings_refresh(merchant=merchant_a, now=NOW)

    # then
    names = {product.pk: name for name, product in p.items()}
    rows = ProductPairing.unscoped.values_list("product_id", "other_id", "orders")
    assert kept == 2
    assert sorted((names[a], names[b], n) for a, b, n in rows) == [
        ("bag", "cap", 2),
        ("cap", "bag", 2),
    ]


def test_a_forms_answer_is_not_counted_as_a_view(client, order, merchant_a):
    # given: the order has a parcel
    Shipment.unscoped.create(merchant=merchant_a, order=order, external_id="shp-1", carrier="UPS")

    # when: a refused post, then a look at the page
    refused = subscribe(client, order, "sms", "", consent=True)
    counters.flush()
    views_after_post = ShipmentPageViews.unscoped.count()
    client.get(page(order))
    counters.flush()

    # then
    assert refused.status_code == 200
    assert views_after_post == 0
    assert list(ShipmentPageViews.unscoped.values_list("views", flat=True)) == [1]
