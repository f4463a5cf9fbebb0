"""Journey blueprints at work, driven through the engine with an explicit clock: order
confirmation, shipping updates, out for delivery, onboarding by product category, the review
request and its reminder, thank you and the loyalty invite, and win-back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from journeys.models import Enrollment, JourneyStepLog
from journeys.services import journeys_handle_event, journeys_tick
from notifications.models import Message
from orders.models import Shipment
from postpurchase.events.services import event_record
from tests.factories import OrderFactory, OrderLineFactory, ProductFactory, event_payload
from tests.journeys.blueprint_helpers import DAY, KEYS, T0, live

# Feedback and Loyalty's links, as they will register them (tests/journeys/conftest.py).
pytestmark = pytest.mark.usefixtures("blueprint_links")


def an_order(merchant, customer, category="electronics", title="Smart speaker"):
    order = OrderFactory(merchant=merchant, customer=customer)
    product = ProductFactory(merchant=merchant, title=title, category=category)
    OrderLineFactory(order=order, product=product, title=title)
    return order


def a_shipment(order):
    return Shipment.unscoped.create(
        merchant=order.merchant,
        order=order,
        external_id=f"shp-{order.pk}",
        carrier="UPS",
        tracking_url="https://ups.example/track/1Z",
    )


def fire(merchant, customer, type, now=T0, **payload):
    event, _ = event_record(
        merchant=merchant,
        type=type,
        customer=customer,
        payload=event_payload(type, merchant=merchant, customer=customer, **payload),
        occurred_at=now,
        now=now,
    )
    return journeys_handle_event(event=event, now=now)


def delivered(merchant, customer, order, now=T0):
    shipment = a_shipment(order)
    return fire(
        merchant,
        customer,
        "shipment.delivered",
        now=now,
        order_id=order.pk,
        shipment_id=shipment.pk,
    )


def sent(customer):
    """(template, when) of each message the steps asked for, fallbacks left out."""
    return list(
        Message.unscoped.filter(customer=customer)
        .exclude(idempotency_key__endswith=":fallback")
        .order_by("created_at", "id")
        .values_list("template__key", "created_at")
    )


def statuses(customer):
    return list(
        Message.unscoped.filter(customer=customer)
        .order_by("created_at", "id")
        .values_list("template__key", "status", "reason")
    )


# --- the journeys at work ---------------------------------------------------------------------


def test_order_confirmation_goes_when_the_order_is_placed(merchant, customer):
    # given
    live(merchant, "order_confirmation")
    order = an_order(merchant, customer)

    # when
    [enrollment] = fire(merchant, customer, "order.placed", order_id=order.pk)
    again = fire(merchant, customer, "order.placed", now=T0 + DAY, order_id=order.pk)

    # then: once per order
    assert again == []
    assert sent(customer) == [("order_confirmation", T0)]
    assert Enrollment.unscoped.get(pk=enrollment.pk).key == f"order:{order.pk}"


def test_shipping_updates_answer_each_status_in_whatever_order_it_comes(merchant, customer):
    # given: the four status journeys; a parcel delayed, then delivered without an
    # out-for-delivery scan; the carrier repeats the delay
    for key in KEYS:
        if key.startswith("shipping_"):
            live(merchant, key)
    order = an_order(merchant, customer)
    shipment = a_shipment(order)
    ids = {"order_id": order.pk, "shipment_id": shipment.pk}

    # when
    fire(merchant, customer, "shipment.in_transit", now=T0, **ids)
    fire(merchant, customer, "shipment.exception", now=T0 + DAY, **ids)
    fire(merchant, customer, "shipment.exception", now=T0 + DAY * 1.5, **ids)
    fire(merchant, customer, "shipment.exception", now=T0 + DAY * 2.5, **ids)
    fire(merchant, customer, "shipment.delivered", now=T0 + DAY * 3, **ids)

    # then: a delay notice at most once a day per order
    assert sent(customer) == [
        ("shipped", T0),
        ("delayed", T0 + DAY),
        ("delayed", T0 + DAY * 2.5),
        ("delivered", T0 + DAY * 3),
    ]


def test_a_parcel_the_scan_finds_stuck_gets_a_notice_at_most_every_three_days(merchant, customer):
    # given: the running-late journey; the scan finds the parcel stuck, then stuck again (no
    # scan in transit after no first scan) a day later, and again four days after the first
    live(merchant, "shipping_running_late")
    order = an_order(merchant, customer)
    shipment = a_shipment(order)
    ids = {"order_id": order.pk, "shipment_id": shipment.pk}

    # when
    for when, reason in ((T0, "no_first_scan"), (T0 + DAY, "no_scan_in_transit")):
        fire(
            merchant,
            customer,
            "shipment.delayed",
            now=when,
            reason=reason,
            since=(when - 2 * DAY).isoformat(),
            days=2,
            **ids,
        )
    fire(
        merchant,
        customer,
        "shipment.delayed",
        now=T0 + 4 * DAY,
        reason="past_estimated_delivery",
        since=(T0 + 3 * DAY).isoformat(),
        days=1,
        **ids,
    )

    # then: the apology with the tracking page, not again within three days
    assert sent(customer) == [("delayed", T0), ("delayed", T0 + 4 * DAY)]
    message = Message.unscoped.filter(customer=customer).order_by("id").first()
    assert f"/s/{merchant.slug}/track/" in message.html


def test_an_order_not_shipped_by_the_promise_gets_one_notice(merchant, customer):
    # given
    live(merchant, "order_running_late")
    order = an_order(merchant, customer)
    late = {
        "order_id": order.pk,
        "reason": "fulfillment_late",
        "fulfillment_status": "unfulfilled",
        "promised_by": "2026-06-01",
        "since": "2026-06-02T04:00:00+00:00",
        "days": 0,
    }

    # when: the scan raises it once; a second event (another incident) changes nothing
    fire(merchant, customer, "order.fulfillment_delayed", now=T0, **late)
    fire(merchant, customer, "order.fulfillment_delayed", now=T0 + 2 * DAY, **late)

    # then
    assert sent(customer) == [("order_delayed", T0)]
    message = Message.unscoped.get(customer=customer)
    assert message.subject == f"Order {order.number} is taking longer to leave us"


def test_out_for_delivery_is_a_text_with_the_email_as_fallback(merchant, customer):
    # given: a shopper with no phone number
    live(merchant, "shipping_out_for_delivery")
    customer.phone = ""
    customer.save()
    order = an_order(merchant, customer)
    shipment = a_shipment(order)

    # when
    fire(
        merchant,
        customer,
        "shipment.out_for_delivery",
        order_id=order.pk,
        shipment_id=shipment.pk,
    )

    # then
    assert statuses(customer) == [
        ("out_for_delivery_sms", "suppressed", "no_address"),
        ("out_for_delivery", "queued", ""),
    ]


@pytest.mark.parametrize(
    ("category", "template"),
    [
        ("electronics", "onboarding_setup"),
        ("apparel", "onboarding_care"),
        ("footwear", "onboarding_care"),
        ("garden", "onboarding_tips"),
    ],
)
def test_onboarding_by_product_category_the_morning_after_delivery(
    merchant, customer, category, template
):
    # given: delivered on Tuesday at 15:00 (the shopper's zone is UTC)
    live(merchant, "onboarding")
    order = an_order(merchant, customer, category=category)
    [enrollment] = delivered(merchant, customer, order)

    # when
    journeys_tick(now=datetime(2026, 6, 3, 10, 0, tzinfo=UTC))

    # then
    assert statuses(customer) == [(template, "queued", "")]
    assert sent(customer) == [(template, datetime(2026, 6, 3, 10, 0, tzinfo=UTC))]
    state = Enrollment.unscoped.get(pk=enrollment.pk).state
    assert state == ("waiting" if category == "electronics" else "completed")


def test_onboarding_sends_the_troubleshooting_guide_when_setup_is_not_completed(merchant, customer):
    # given: the set-up guide went on Wednesday at 10:00; set-up of another order completes
    live(merchant, "onboarding")
    order = an_order(merchant, customer)
    [enrollment] = delivered(merchant, customer, order)
    guide_at = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
    journeys_tick(now=guide_at)
    fire(merchant, customer, "product.setup_completed", now=guide_at + DAY, order_id=order.pk + 1)

    # when: three days pass
    early = journeys_tick(now=guide_at + 3 * DAY - timedelta(seconds=1))
    on_time = journeys_tick(now=guide_at + 3 * DAY)

    # then
    assert (early, on_time) == (0, 1)
    assert statuses(customer) == [
        ("onboarding_setup", "queued", ""),
        ("troubleshooting_guide", "queued", ""),
    ]
    assert sent(customer)[1] == ("troubleshooting_guide", guide_at + 3 * DAY)
    enrollment.refresh_from_db()
    # the goal counts for its own order only: another order's set-up does not convert it
    assert (enrollment.state, enrollment.converted_at) == ("completed", None)


def test_onboarding_ends_without_troubleshooting_when_setup_is_completed(merchant, customer):
    # given
    live(merchant, "onboarding")
    order = an_order(merchant, customer)
    [enrollment] = delivered(merchant, customer, order)
    guide_at = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
    journeys_tick(now=guide_at)

    # when: set-up completed two days later
    done_at = guide_at + 2 * DAY
    fire(merchant, customer, "product.setup_completed", now=done_at, order_id=order.pk)
    later = journeys_tick(now=guide_at + 10 * DAY)

    # then
    assert later == 0
    assert [key for key, _ in sent(customer)] == ["onboarding_setup"]
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.converted_at) == ("completed", done_at)
    steps = JourneyStepLog.unscoped.filter(enrollment=enrollment, step_id="setup_wait")
    assert list(steps.values_list("outcome", flat=True)) == ["waiting", "event_arrived"]


def test_review_request_a_week_after_delivery_then_one_reminder(merchant, customer):
    # given
    live(merchant, "review_request")
    order = an_order(merchant, customer)
    [enrollment] = delivered(merchant, customer, order)

    # when
    ticks = [
        journeys_tick(now=T0 + 7 * DAY - timedelta(seconds=1)),
        journeys_tick(now=T0 + 7 * DAY),
        journeys_tick(now=T0 + 11 * DAY - timedelta(seconds=1)),
        journeys_tick(now=T0 + 11 * DAY),
        journeys_tick(now=T0 + 30 * DAY),
    ]

    # then
    assert ticks == [0, 1, 0, 1, 0]
    assert sent(customer) == [("review_request", T0 + 7 * DAY), ("review_reminder", T0 + 11 * DAY)]
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.converted_at) == ("completed", None)


def test_a_review_of_the_order_stops_the_reminder_and_converts(merchant, customer):
    # given: asked a week after delivery
    live(merchant, "review_request")
    order = an_order(merchant, customer)
    [enrollment] = delivered(merchant, customer, order)
    journeys_tick(now=T0 + 7 * DAY)

    # when: a review of another order, then of this one
    fire(merchant, customer, "review.submitted", now=T0 + 8 * DAY, order_id=order.pk + 1)
    still = Enrollment.unscoped.get(pk=enrollment.pk).state
    fire(merchant, customer, "review.submitted", now=T0 + 9 * DAY, order_id=order.pk)
    journeys_tick(now=T0 + 30 * DAY)

    # then
    assert still == "waiting"
    assert [key for key, _ in sent(customer)] == ["review_request"]
    enrollment.refresh_from_db()
    # the wait matches the order, and so does the goal (a journey keyed per order)
    assert (enrollment.state, enrollment.converted_at) == ("completed", T0 + 9 * DAY)


def test_a_review_before_the_request_means_no_request(merchant, customer):
    # given
    live(merchant, "review_request")
    order = an_order(merchant, customer)
    [enrollment] = delivered(merchant, customer, order)

    # when: reviewed on the shop's own page two days after delivery
    fire(merchant, customer, "review.submitted", now=T0 + 2 * DAY, order_id=order.pk)
    journeys_tick(now=T0 + 30 * DAY)

    # then
    assert sent(customer) == []
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.converted_at) == ("completed", T0 + 2 * DAY)


def test_thank_you_the_next_morning_and_the_loyalty_invite_once(merchant, customer):
    # given
    live(merchant, "thank_you_loyalty")
    first, second = an_order(merchant, customer), an_order(merchant, customer)
    thursday, saturday = (datetime(2026, 6, d, 10, 0, tzinfo=UTC) for d in (4, 6))

    # when: one order, then another a month later
    fire(merchant, customer, "order.placed", order_id=first.pk)
    journeys_tick(now=thursday)
    journeys_tick(now=saturday)
    fire(merchant, customer, "order.placed", now=T0 + 31 * DAY, order_id=second.pk)
    journeys_tick(now=thursday + 31 * DAY)
    journeys_tick(now=saturday + 31 * DAY)

    # then
    assert sent(customer) == [
        ("thank_you", thursday),
        ("loyalty_invite", saturday),
        ("thank_you", thursday + 31 * DAY),
    ]
    customer.refresh_from_db()
    assert customer.tags == ["loyalty-invited"]
    first_enrollment = Enrollment.unscoped.filter(customer=customer).order_by("pk").first()
    assert first_enrollment.converted_at == T0 + 31 * DAY


def win_back_entered(merchant, customer):
    """An enrollment as the inactivity scan makes it (entered at 10:00, due at once)."""
    journey = live(merchant, "win_back")
    journey.refresh_from_db()
    return Enrollment.unscoped.create(
        merchant=merchant,
        journey=journey,
        version=journey.live_version,
        customer=customer,
        key="inactive:2026-04-03",
        state="active",
        current_step=journey.live_version.definition["start"],
        next_run_at=datetime(2026, 6, 2, 10, 0, tzinfo=UTC),
        context={"event": {"type": "inactivity", "key": "inactive:2026-04-03"}},
        entered_at=datetime(2026, 6, 2, 10, 0, tzinfo=UTC),
    )


def test_win_back_sends_a_second_touch_thirty_days_later(merchant, customer):
    # given
    entered_at = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)
    enrollment = win_back_entered(merchant, customer)

    # when
    ticks = [
        journeys_tick(now=entered_at),
        journeys_tick(now=entered_at + 30 * DAY - timedelta(seconds=1)),
        journeys_tick(now=entered_at + 30 * DAY),
    ]

    # then
    assert ticks == [1, 0, 1]
    assert sent(customer) == [
        ("win_back", entered_at),
        ("win_back_second", entered_at + 30 * DAY),
    ]
    assert statuses(customer)[1] == ("win_back_second", "queued", "")
    enrollment.refresh_from_db()
    assert enrollment.state == "completed"


def test_win_back_ends_on_a_purchase_which_is_its_goal(merchant, customer):
    # given: the first touch went
    entered_at = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)
    enrollment = win_back_entered(merchant, customer)
    journeys_tick(now=entered_at)

    # when: the shopper orders ten days later
    bought_at = entered_at + 10 * DAY
    fire(merchant, customer, "order.placed", now=bought_at, order_id=1, total="80.00")
    journeys_tick(now=entered_at + 60 * DAY)

    # then
    assert [key for key, _ in sent(customer)] == ["win_back"]
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "event:order.placed")
    assert (enrollment.converted_at, enrollment.revenue) == (bought_at, Decimal("80.000"))
