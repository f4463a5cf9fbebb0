"""A shopper opens the tracking page from a shipping message's link on a phone, in Chromium:
reads where the parcel is and its checkpoints, switches to the order's other parcel, and asks
for text updates (the ``page`` fixture fails the test on any CSP violation)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from orders.models import Shipment, ShipmentStatus, TrackingEvent
from postpurchase.shopper.views import SHOPPER_CSP
from tests.factories import CustomerFactory, MerchantFactory, OrderFactory, OrderLineFactory
from tracking.links import tracking_page_url
from tracking.models import TrackingSubscription

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def order():
    merchant = MerchantFactory(
        slug="alpha",
        name="Alpha Apparel",
        primary_colour="#112233",
        accent_colour="#aa5500",
        timezone="America/New_York",
        country="US",
    )
    customer = CustomerFactory(merchant=merchant, email="ada@example.net", first_name="Ada")
    order = OrderFactory(merchant=merchant, customer=customer, number="#1001")
    OrderLineFactory(order=order, title="Trail running shoe, extra-wide fit", quantity=1)
    today = timezone.now().astimezone(ZoneInfo("America/New_York")).date()  # the shopper's
    for n, status in ((1, ShipmentStatus.IN_TRANSIT), (2, ShipmentStatus.EXCEPTION)):
        shipment = Shipment.unscoped.create(
            merchant=merchant,
            order=order,
            external_id=f"shp-{n}",
            carrier="UPS",
            service="Ground",
            tracking_number=f"1Z999AA1012345678{n}",
            tracking_url=f"https://www.ups.com/track?tracknum=1Z999AA1012345678{n}",
            status=status,
            substatus="customs" if status == ShipmentStatus.EXCEPTION else "",
            estimate_earliest=today + timedelta(days=2),
            estimate_latest=today + timedelta(days=4),
            created_at=timezone.now() - timedelta(days=3, minutes=-n),
        )
        TrackingEvent.unscoped.create(
            merchant=merchant,
            shipment=shipment,
            status=ShipmentStatus.IN_TRANSIT,
            description="Departed a carrier facility with a rather long description of it",
            location="Louisville, KY, United States",
            occurred_at=datetime(2026, 3, 3, 4, 30, tzinfo=UTC),
        )
    return order


def no_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 390


def test_shopper_follows_a_parcel_and_asks_for_texts_on_a_phone(page, live_server, order):
    # given: the link of a shipping message, opened on a phone-sized screen
    first = order.shipments.order_by("created_at").first()
    url = tracking_page_url(merchant=order.merchant, order_id=order.pk, shipment_id=first.pk)
    path = url[url.index("/s/") :]
    page.set_viewport_size({"width": 390, "height": 844})

    # when
    response = page.goto(f"{live_server.url}{path}", wait_until="load")

    # then
    assert response.headers["content-security-policy"] == SHOPPER_CSP
    assert page.text_content("h1").strip() == "On its way"
    assert page.text_content("[data-arrival]").strip().startswith("Arriving ")
    assert page.locator("[data-checkpoint]").count() == 1
    assert page.locator("[data-tab]").count() == 2
    assert page.locator("script").count() == 0
    assert no_overflow(page)

    # when: the other parcel's tab
    with page.expect_navigation(wait_until="load"):
        page.click("[data-tab] >> nth=1")

    # then
    assert page.text_content("h1").strip() == "There’s a problem with this delivery"
    assert page.text_content("[data-notice]").strip().startswith("Your parcel is held at customs.")
    assert no_overflow(page)

    # then: the channel choices are laid out as choices (a radio beside its words)
    radio = page.locator("input[name=channel][value=sms]").bounding_box()
    words = page.locator("label.choice:has(input[value=sms]) .choice__label").bounding_box()
    assert radio["width"] <= 24 and words["x"] > radio["x"]
    assert words["width"] > 100 and words["height"] < 40  # one line, not a letter a line

    # when: texts to a national number
    page.fill("#sms_address", "(415) 555-0123")
    page.check("input[name=consent]")
    with page.expect_navigation(wait_until="load"):
        page.click("text=Send me updates")

    # then
    assert page.text_content("[data-updates-saved]").strip() == "You’ll get this order’s updates."
    assert page.text_content("[data-subscription] span").strip() == "SMS to •••0123"
    assert no_overflow(page)
    assert list(TrackingSubscription.unscoped.values_list("channel", "address", "source")) == [
        ("sms", "+14155550123", "tracking_page")
    ]
