"""Open incidents are resolved by the scan when their condition no longer holds, each kind at its
boundary; a resolved incident is never raised again; one statement per kind; and on the status
path, as soon as a status or order event is handed to the consumer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

from orders.models import Order, Shipment
from orders.services import shipment_ingest
from postpurchase.events.dispatch import events_dispatch
from postpurchase.events.models import Event
from postpurchase.events.registry import registry
from tests.factories import OrderFactory
from tracking.delays import delays_scan
from tracking.models import DelayIncident
from tracking.resolution import RESOLVE_CONSUMER, RESOLVES, incidents_resolve_on_events

SECOND = timedelta(seconds=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def states(**filters) -> list[tuple[str, str, datetime | None]]:
    """(reason, resolution, resolved_at) of the incidents, oldest first."""
    return list(
        DelayIncident.unscoped.filter(**filters)
        .order_by("id")
        .values_list("reason", "resolution", "resolved_at")
    )


def move(shipment: Shipment, **fields) -> None:
    Shipment.unscoped.filter(pk=shipment.pk).update(**fields)


def stalled(shipment_of, merchant, **fields) -> Shipment:
    """In transit, last scanned on 2 April 12:00 PDT: late from 7 April 12:00 PDT."""
    return shipment_of(
        merchant,
        status=fields.pop("status", "in_transit"),
        created_at=at("2026-04-01T12:00:00-07:00"),
        status_changed_at=at("2026-04-02T12:00:00-07:00"),
        **fields,
    )


LATE = at("2026-04-07T12:00:00-07:00")


def carrier_reports(merchant, shipment: Shipment, status: str, when: datetime) -> None:
    """``status`` for ``shipment`` at ``when`` through the status path, and its event handed
    over to the consumers a second later."""
    shipment_ingest(
        merchant=merchant,
        payload={
            "external_id": shipment.external_id,
            "order_external_id": shipment.order.external_id,
            "status": status,
            "status_at": when.isoformat(),
        },
        now=when,
    )
    events_dispatch(events=Event.unscoped.filter(type=f"shipment.{status}"), now=when + SECOND)


# --- scanned again --------------------------------------------------------------------------


def test_a_scan_after_since_resolves_the_transit_delay_as_moved(merchant_la, shipment_of):
    # given: a raised in-transit delay
    shipment = stalled(shipment_of, merchant_la)
    delays_scan(now=LATE)
    assert states() == [("no_scan_in_transit", "", None)]

    # when: the carrier's scan is re-sent with the same time, and a scan runs
    move(shipment, status_changed_at=at("2026-04-02T12:00:00-07:00"))
    result = delays_scan(now=LATE + timedelta(hours=1))

    # then: still open
    assert result.resolved["no_scan_in_transit"] == 0
    assert states() == [("no_scan_in_transit", "", None)]

    # when: a scan a second after ``since``, and the next hourly scan
    move(shipment, status_changed_at=at("2026-04-02T12:00:01-07:00"))
    now = LATE + timedelta(hours=2)
    result = delays_scan(now=now)

    # then: resolved as moved, at the scan's time (and the new silence, five days from the new
    # scan, is an incident of its own)
    assert result.resolved["no_scan_in_transit"] == 1
    assert states() == [("no_scan_in_transit", "moved", now), ("no_scan_in_transit", "", None)]


def test_the_carriers_first_scan_resolves_no_first_scan_and_info_received_does_not(
    merchant_la, shipment_of
):
    # given: no first scan three days after the fulfilment
    shipment = shipment_of(
        merchant_la, status="pending", created_at=at("2026-04-01T12:00:00-07:00")
    )
    delays_scan(now=at("2026-04-04T12:00:00-07:00"))

    # when: the label's data arrives (still no carrier scan)
    move(shipment, status="info_received", status_changed_at=at("2026-04-04T13:00:00-07:00"))
    delays_scan(now=at("2026-04-04T14:00:00-07:00"))

    # then: open
    assert states() == [("no_first_scan", "", None)]

    # when: the carrier scans it
    move(shipment, status="in_transit", status_changed_at=at("2026-04-04T15:00:00-07:00"))
    delays_scan(now=at("2026-04-04T16:00:00-07:00"))

    # then
    assert states() == [("no_first_scan", "moved", at("2026-04-04T16:00:00-07:00"))]


def test_a_newer_exception_resolves_the_older_and_raises_its_own(merchant_la, shipment_of):
    # given: an exception raised
    shipment = shipment_of(
        merchant_la,
        status="exception",
        substatus="customs",
        created_at=at("2026-04-01T12:00:00Z"),
        status_changed_at=at("2026-04-02T12:00:00Z"),
    )
    delays_scan(now=at("2026-04-02T13:00:00Z"))

    # when: the carrier reports another exception a day later
    move(shipment, substatus="address", status_changed_at=at("2026-04-03T12:00:00Z"))
    now = at("2026-04-03T13:00:00Z")
    delays_scan(now=now)

    # then: the first moved on, the second is open
    assert states() == [("exception", "moved", now), ("exception", "", None)]


# --- re-estimated ---------------------------------------------------------------------------


def test_a_later_estimate_resolves_past_estimated_delivery_and_a_scan_does_not(
    merchant_la, shipment_of
):
    # given: expected on 10 April, late from 11 April 00:00 PDT
    shipment = shipment_of(
        merchant_la,
        status="in_transit",
        created_at=at("2026-04-08T12:00:00-07:00"),
        status_changed_at=at("2026-04-10T06:00:00-07:00"),
        estimated_delivery=date(2026, 4, 10),
    )
    delays_scan(now=at("2026-04-11T07:00:00Z"))

    # when: the carrier scans it again, still on its way
    move(shipment, status="out_for_delivery", status_changed_at=at("2026-04-11T08:00:00-07:00"))
    delays_scan(now=at("2026-04-11T16:00:00Z"))

    # then: still late
    assert states() == [("past_estimated_delivery", "", None)]

    # when: the carrier gives a later date
    move(shipment, estimated_delivery=date(2026, 4, 13))
    now = at("2026-04-11T17:00:00Z")
    result = delays_scan(now=now)

    # then: resolved as re-estimated, and no new incident before the new date passes
    assert result.resolved["past_estimated_delivery"] == 1
    assert states() == [("past_estimated_delivery", "re_estimated", now)]

    # when: the date goes back to 10 April (the same incident's ``since``)
    move(shipment, estimated_delivery=date(2026, 4, 10))
    delays_scan(now=at("2026-04-11T18:00:00Z"))

    # then: raised once only: no second event, and it stays as resolved
    assert states() == [("past_estimated_delivery", "re_estimated", now)]
    assert Event.unscoped.filter(type="shipment.delayed").count() == 1


# --- the end of the road --------------------------------------------------------------------


def test_delivery_resolves_every_open_incident_of_the_shipment(merchant_la, shipment_of):
    # given: late in transit and past its estimate
    shipment = stalled(shipment_of, merchant_la, estimated_delivery=date(2026, 4, 5))
    delays_scan(now=LATE)
    assert [reason for reason, _, _ in states()] == [
        "no_scan_in_transit",
        "past_estimated_delivery",
    ]

    # when
    move(shipment, status="delivered", status_changed_at=LATE + SECOND)
    now = LATE + timedelta(hours=1)
    result = delays_scan(now=now)

    # then
    assert result.resolved["ended"] == 2
    assert states() == [
        ("no_scan_in_transit", "delivered", now),
        ("past_estimated_delivery", "delivered", now),
    ]


def test_returned_to_sender_resolves_as_returned(merchant_la, shipment_of):
    # given
    shipment = stalled(shipment_of, merchant_la)
    delays_scan(now=LATE)

    # when
    move(shipment, status="returned_to_sender", status_changed_at=LATE + SECOND)
    delays_scan(now=LATE + timedelta(hours=1))

    # then
    assert states() == [("no_scan_in_transit", "returned", LATE + timedelta(hours=1))]


def test_expiry_resolves_the_other_incidents_and_its_own_stays_open_until_it_moves(
    merchant_la, shipment_of
):
    # given: silent since 1 March 10:00 PST, late in transit from 6 March
    shipment = shipment_of(
        merchant_la,
        status="in_transit",
        created_at=at("2026-02-27T10:00:00-08:00"),
        status_changed_at=at("2026-03-01T10:00:00-08:00"),
    )
    delays_scan(now=at("2026-03-06T10:00:00-08:00"))

    # when: the scan at the expiry threshold (31 March 10:00 PDT) expires it
    threshold = at("2026-03-31T10:00:00-07:00")
    delays_scan(now=threshold)

    # then: in the same scan the transit delay ends as expired; the expiry stays open
    assert states() == [("no_scan_in_transit", "expired", threshold), ("expired", "", None)]
    delays_scan(now=threshold + timedelta(hours=1))
    assert states()[1] == ("expired", "", None)

    # when: the parcel turns up delivered
    order = shipment.order
    shipment_ingest(
        merchant=merchant_la,
        payload={
            "external_id": shipment.external_id,
            "order_external_id": order.external_id,
            "status": "delivered",
            "status_at": "2026-04-02T09:00:00-07:00",
        },
        now=at("2026-04-02T09:00:00-07:00"),
    )
    now = at("2026-04-02T10:00:00-07:00")
    delays_scan(now=now)

    # then
    assert states()[1] == ("expired", "delivered", now)


# --- orders ---------------------------------------------------------------------------------


def late_order(merchant) -> Order:
    """Placed on Monday 2 March 09:00 PST; three business days end on Thursday 5 March, so it
    is late from Friday 6 March 00:00 PST = 08:00 UTC."""
    return OrderFactory(merchant=merchant, placed_at=at("2026-03-02T09:00:00-08:00"))


def test_fulfilment_resolves_the_late_order_and_a_partial_one_does_not(merchant_la):
    # given
    order = late_order(merchant_la)
    delays_scan(now=at("2026-03-06T08:00:00Z"))

    # when: part of it ships
    Order.unscoped.filter(pk=order.pk).update(fulfillment_status="partially_fulfilled")
    delays_scan(now=at("2026-03-06T09:00:00Z"))

    # then
    assert states() == [("fulfillment_late", "", None)]

    # when: the rest ships
    Order.unscoped.filter(pk=order.pk).update(fulfillment_status="fulfilled")
    result = delays_scan(now=at("2026-03-06T10:00:00Z"))

    # then
    assert result.resolved["fulfilled"] == 1
    assert states() == [("fulfillment_late", "fulfilled", at("2026-03-06T10:00:00Z"))]


def test_a_late_order_is_resolved_as_expired_when_it_leaves_the_rules_window(merchant_la):
    # given: raised; thirty days after 2 March 09:00 PST is 1 April 09:00 PDT
    late_order(merchant_la)
    delays_scan(now=at("2026-03-06T08:00:00Z"))
    window_end = at("2026-04-01T09:00:00-07:00")

    # when / then: a second before, open; at the end of the window, expired
    delays_scan(now=window_end - SECOND)
    assert states() == [("fulfillment_late", "", None)]
    result = delays_scan(now=window_end)
    assert result.resolved["order_expired"] == 1
    assert states() == [("fulfillment_late", "expired", window_end)]


def test_cancelling_the_order_resolves_its_incidents_and_its_shipments(merchant_la, shipment_of):
    # given: a late order (placed on Wednesday 1 April, promised by Monday 6 April), and a late
    # shipment of another order
    order = OrderFactory(merchant=merchant_la, placed_at=at("2026-04-01T09:00:00-07:00"))
    shipment = stalled(shipment_of, merchant_la)
    delays_scan(now=LATE)
    assert len(states(resolved_at__isnull=True)) == 2

    # when: both orders are cancelled
    Order.unscoped.filter(pk__in=[order.pk, shipment.order_id]).update(cancelled_at=LATE)
    now = LATE + timedelta(hours=1)
    result = delays_scan(now=now)

    # then
    assert result.resolved["cancelled"] == 2
    assert states(order=order) == [("fulfillment_late", "cancelled", now)]
    assert states(shipment=shipment) == [("no_scan_in_transit", "cancelled", now)]


# --- what stays --------------------------------------------------------------------------


def test_a_resolved_incident_keeps_when_and_why(merchant_la, shipment_of):
    # given: resolved as delivered
    shipment = stalled(shipment_of, merchant_la)
    delays_scan(now=LATE)
    move(shipment, status="delivered", status_changed_at=LATE + SECOND)
    first = LATE + timedelta(hours=1)
    delays_scan(now=first)

    # when: the order is cancelled afterwards, and the scan runs again
    Order.unscoped.filter(pk=shipment.order_id).update(cancelled_at=first)
    result = delays_scan(now=first + timedelta(hours=1))

    # then: nothing changes
    assert sum(result.resolved.values()) == 0
    assert states() == [("no_scan_in_transit", "delivered", first)]


def test_another_merchants_incidents_are_resolved_by_their_own_rows_only(
    merchant_la, merchant_b, shipment_of
):
    # given: both merchants have a stalled shipment; Bravo's is delivered
    lima = stalled(shipment_of, merchant_la)
    bravo = stalled(shipment_of, merchant_b)
    delays_scan(now=LATE)
    move(bravo, status="delivered", status_changed_at=LATE + SECOND)

    # when
    delays_scan(now=LATE + timedelta(hours=1))

    # then
    assert states(shipment=lima) == [("no_scan_in_transit", "", None)]
    assert states(shipment=bravo) == [
        ("no_scan_in_transit", "delivered", LATE + timedelta(hours=1))
    ]


def test_one_statement_per_kind(merchant_la, shipment_of):
    # then: the kinds, in the order they run
    assert [resolve.name for resolve in RESOLVES] == [
        "cancelled",
        "ended",
        "no_first_scan",
        "no_scan_in_transit",
        "past_estimated_delivery",
        "exception",
        "expired",
        "fulfilled",
        "order_expired",
    ]


# --- on the status path ---------------------------------------------------------------------


def test_the_consumer_is_subscribed_to_status_and_order_events():
    # then
    consumer = registry.get(RESOLVE_CONSUMER)
    assert sorted(consumer.event_types) == [
        "order.cancelled",
        "order.fulfilled",
        "shipment.available_for_pickup",
        "shipment.delivered",
        "shipment.exception",
        "shipment.expired",
        "shipment.failed_attempt",
        "shipment.in_transit",
        "shipment.out_for_delivery",
        "shipment.returned_to_sender",
    ]
    assert consumer.batch_handler is incidents_resolve_on_events


def test_a_delivery_resolves_its_incidents_when_its_event_is_handed_over(merchant_la, shipment_of):
    # given: late in transit and past its estimate, raised by the scan
    shipment = stalled(shipment_of, merchant_la, estimated_delivery=date(2026, 4, 5))
    other = stalled(shipment_of, merchant_la)
    delays_scan(now=LATE)

    # when: the carrier says it was delivered, and its event reaches the consumers
    before = timezone.now()
    carrier_reports(merchant_la, shipment, "delivered", LATE + timedelta(hours=1))

    # then: both of its incidents resolved at once (not waiting for the scan); the other
    # shipment's stays open
    resolved = states(shipment=shipment)
    assert [(reason, why) for reason, why, _ in resolved] == [
        ("no_scan_in_transit", "delivered"),
        ("past_estimated_delivery", "delivered"),
    ]
    assert all(before <= when <= timezone.now() for _, _, when in resolved)
    assert states(shipment=other) == [("no_scan_in_transit", "", None)]


def test_a_scan_on_the_status_path_resolves_as_moved_and_a_re_estimate_waits(
    merchant_la, shipment_of
):
    # given
    shipment = stalled(shipment_of, merchant_la, estimated_delivery=date(2026, 4, 5))
    delays_scan(now=LATE)

    # when: out for delivery (an event), handed over
    carrier_reports(merchant_la, shipment, "out_for_delivery", LATE + timedelta(hours=1))

    # then: the silence is over; it is still past its estimate
    assert [(reason, why) for reason, why, _ in states()] == [
        ("no_scan_in_transit", "moved"),
        ("past_estimated_delivery", ""),
    ]
