"""shipment_ingest and tracking updates: events per status, and never moving backwards in time."""

from datetime import UTC, datetime

import pytest

from orders.models import FulfillmentStatus, Order, Shipment, TrackingEvent
from orders.services.orders import order_ingest
from orders.services.shipments import shipment_ingest, shipment_tracking_update
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from tests.factories import order_payload, two_line_order_payload

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def order(merchant_a):
    return order_ingest(merchant=merchant_a, payload=order_payload(), now=NOW).instance


def shipment_payload(**overrides):
    payload = {
        "external_id": "ful-1",
        "order_external_id": "ord-1001",
        "carrier": "UPS",
        "tracking_number": "1Z999",
        "tracking_url": "https://track.example/1Z999",
        "estimated_delivery": "2026-03-05",
        "lines": [{"line_external_id": "line-1", "quantity": 2}],
        "checkpoints": [
            {"status": "info_received", "occurred_at": "2026-03-01T13:00:00Z"},
        ],
    }
    payload.update(overrides)
    return payload


def checkpoint(status, at, **extra):
    return {"status": status, "occurred_at": at, **extra}


def shipment_event_types(merchant):
    return list(
        Event.unscoped.filter(merchant=merchant, type__startswith="shipment.")
        .order_by("id")
        .values_list("type", flat=True)
    )


def test_a_new_shipment_records_created_and_fulfils_the_order(merchant_a, order):
    # when
    result = shipment_ingest(merchant=merchant_a, payload=shipment_payload(), now=NOW)

    # then
    shipment = result.instance
    assert result.created is True
    assert result.events == ["shipment.created", "order.fulfilled"]
    assert (shipment.status, shipment.status_changed_at) == (
        "info_received",
        datetime(2026, 3, 1, 13, 0, tzinfo=UTC),
    )
    assert Order.unscoped.get().fulfillment_status == FulfillmentStatus.FULFILLED


def test_checkpoints_move_the_status_forward_and_record_each_step(merchant_a, order):
    # given
    shipment_ingest(merchant=merchant_a, payload=shipment_payload(), now=NOW)

    # when
    result = shipment_ingest(
        merchant=merchant_a,
        payload=shipment_payload(
            checkpoints=[
                checkpoint("in_transit", "2026-03-02T09:00:00Z", location="Louisville, KY"),
                checkpoint("out_for_delivery", "2026-03-04T07:00:00Z"),
                checkpoint("delivered", "2026-03-04T15:30:00Z", description="Left at front door"),
            ]
        ),
        now=NOW,
    )

    # then
    shipment = Shipment.unscoped.get()
    assert result.events == [
        "shipment.in_transit",
        "shipment.out_for_delivery",
        "shipment.delivered",
    ]
    assert shipment.status == "delivered"
    assert shipment.shipped_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert shipment.delivered_at == datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    assert TrackingEvent.unscoped.count() == 4


def test_an_older_update_arriving_late_does_not_move_the_shipment_backwards(merchant_a, order):
    # given: delivered
    shipment = shipment_ingest(
        merchant=merchant_a,
        payload=shipment_payload(checkpoints=[checkpoint("delivered", "2026-03-04T15:30:00Z")]),
        now=NOW,
    ).instance

    # when: the carrier's earlier "out for delivery" scan arrives afterwards
    late = shipment_tracking_update(
        merchant=merchant_a,
        shipment=shipment,
        checkpoint=checkpoint("out_for_delivery", "2026-03-04T07:00:00Z"),
        now=NOW,
    )

    # then: the scan is kept in the history, the status stays delivered, no event is recorded
    shipment.refresh_from_db()
    assert shipment.status == "delivered"
    assert late.events == []
    assert TrackingEvent.unscoped.filter(status="out_for_delivery").count() == 1
    assert shipment_event_types(merchant_a) == ["shipment.created", "shipment.delivered"]


def test_the_same_tracking_update_twice_has_one_effect(merchant_a, order):
    shipment = shipment_ingest(merchant=merchant_a, payload=shipment_payload(), now=NOW).instance
    update = checkpoint("exception", "2026-03-03T10:00:00Z", description="Address not found")

    first = shipment_tracking_update(merchant=merchant_a, shipment=shipment, checkpoint=update)
    second = shipment_tracking_update(merchant=merchant_a, shipment=shipment, checkpoint=update)

    assert first.events == ["shipment.exception"]
    assert (second.events, second.changed) == ([], False)
    assert TrackingEvent.unscoped.filter(status="exception").count() == 1


def test_a_shipment_can_recover_from_an_exception_with_a_newer_scan(merchant_a, order):
    shipment = shipment_ingest(merchant=merchant_a, payload=shipment_payload(), now=NOW).instance
    shipment_tracking_update(
        merchant=merchant_a,
        shipment=shipment,
        checkpoint=checkpoint("exception", "2026-03-03T10:00:00Z"),
    )

    shipment_tracking_update(
        merchant=merchant_a,
        shipment=shipment,
        checkpoint=checkpoint("in_transit", "2026-03-03T18:00:00Z"),
    )

    shipment.refresh_from_db()
    assert shipment.status == "in_transit"
    assert shipment_event_types(merchant_a) == [
        "shipment.created",
        "shipment.exception",
        "shipment.in_transit",
    ]


def test_partial_shipment_marks_the_order_partially_fulfilled(merchant_a, order):
    shipment_ingest(
        merchant=merchant_a,
        payload=shipment_payload(lines=[{"line_external_id": "line-1", "quantity": 1}]),
        now=NOW,
    )

    assert Order.unscoped.get().fulfillment_status == FulfillmentStatus.PARTIALLY_FULFILLED
    assert not Event.unscoped.filter(type="order.fulfilled").exists()


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"order_external_id": "nope"}, "order_external_id", "not_found"),
        (
            {"lines": [{"line_external_id": "ghost", "quantity": 1}]},
            "lines[0].line_external_id",
            "not_found",
        ),
        (
            {"lines": [{"line_external_id": "line-1", "quantity": 3}]},
            "lines[0].quantity",
            "quantity_exceeds_unshipped",
        ),
        (
            {"checkpoints": [{"status": "lost_in_space", "occurred_at": "2026-03-02T09:00:00Z"}]},
            "checkpoints[0].status",
            "invalid",
        ),
        ({"tracking_url": "javascript:alert(1)"}, "tracking_url", "invalid"),
    ],
)
def test_bad_shipments_name_the_field_and_write_nothing(merchant_a, order, overrides, field, code):
    events_before = Event.unscoped.count()

    with pytest.raises(DomainError) as excinfo:
        shipment_ingest(merchant=merchant_a, payload=shipment_payload(**overrides), now=NOW)

    assert (excinfo.value.code, excinfo.value.field) == (code, field)
    assert Shipment.unscoped.count() == 0
    assert TrackingEvent.unscoped.count() == 0
    assert Event.unscoped.count() == events_before


def test_a_shipment_cannot_move_to_another_order(merchant_a, order):
    shipment_ingest(merchant=merchant_a, payload=shipment_payload(), now=NOW)
    order_ingest(
        merchant=merchant_a, payload=order_payload(external_id="ord-2", number="#2"), now=NOW
    )

    with pytest.raises(DomainError) as excinfo:
        shipment_ingest(
            merchant=merchant_a,
            payload=shipment_payload(order_external_id="ord-2", lines=[]),
            now=NOW,
        )

    assert (excinfo.value.code, excinfo.value.field) == (
        "shipment_order_mismatch",
        "order_external_id",
    )


def test_an_undated_shipment_still_follows_a_later_carrier_scan(merchant_a, order):
    # given: a shipment announced with no dates at all
    shipment = shipment_ingest(
        merchant=merchant_a,
        now=NOW,
        payload={"external_id": "ful-1", "order_external_id": "ord-1001", "carrier": "UPS"},
    ).instance
    assert shipment.status_changed_at is None

    # when: the carrier's delivery scan, dated before the shipment reached us, arrives
    result = shipment_tracking_update(
        merchant=merchant_a,
        shipment=shipment,
        now=NOW,
        checkpoint=checkpoint("delivered", "2026-03-10T07:00:00Z"),
    )

    # then
    shipment.refresh_from_db()
    assert shipment.status == "delivered"
    assert shipment.delivered_at == datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
    assert result.events == ["shipment.delivered"]


def test_an_undated_status_does_not_block_a_dated_scan(merchant_a, order):
    # given: the store says "in transit" without a time, twice
    shipment_ingest(merchant=merchant_a, now=NOW, payload=shipment_payload(status="in_transit"))
    again = shipment_ingest(
        merchant=merchant_a, now=NOW, payload=shipment_payload(status="in_transit")
    )

    # when: the carrier's out-for-delivery scan dated before NOW arrives
    shipment = Shipment.unscoped.get()
    shipment_tracking_update(
        merchant=merchant_a,
        shipment=shipment,
        now=NOW,
        checkpoint=checkpoint("out_for_delivery", "2026-03-04T07:00:00Z"),
    )

    # then
    shipment.refresh_from_db()
    assert again.events == []
    assert shipment.status == "out_for_delivery"
    assert shipment.status_changed_at == datetime(2026, 3, 4, 7, 0, tzinfo=UTC)


def test_two_shipments_cannot_carry_more_than_was_ordered(merchant_a, order):
    shipment_ingest(merchant=merchant_a, payload=shipment_payload(), now=NOW)

    with pytest.raises(DomainError) as excinfo:
        shipment_ingest(
            merchant=merchant_a,
            now=NOW,
            payload=shipment_payload(external_id="ful-2", checkpoints=[]),
        )

    assert excinfo.value.field == "lines[0].quantity"
    assert excinfo.value.message == "Line 'line-1' has only 0 left to ship."
    assert Shipment.unscoped.count() == 1


def test_a_raw_checkpoint_payload_is_bounded(merchant_a, order):
    huge = checkpoint("in_transit", "2026-03-02T09:00:00Z", raw={"blob": "x" * 20_000})

    with pytest.raises(DomainError) as excinfo:
        shipment_ingest(merchant=merchant_a, payload=shipment_payload(checkpoints=[huge]), now=NOW)

    assert excinfo.value.field == "checkpoints[0].raw"
    assert TrackingEvent.unscoped.count() == 0


def test_an_undated_status_never_moves_a_dated_shipment(merchant_a, order):
    # given: the carrier says delivered
    shipment = shipment_ingest(
        merchant=merchant_a,
        now=NOW,
        payload=shipment_payload(checkpoints=[checkpoint("delivered", "2026-03-04T15:30:00Z")]),
    ).instance

    # when: the store re-sends its shipment, still saying "in transit" without a time
    stale = shipment_ingest(
        merchant=merchant_a, now=NOW, payload=shipment_payload(checkpoints=[], status="in_transit")
    )

    # then
    shipment.refresh_from_db()
    assert (shipment.status, stale.events) == ("delivered", [])
    assert shipment.delivered_at == datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


def test_undated_statuses_only_move_forward(merchant_a, order):
    # given: a shipment with no dates that the store says is out for delivery
    shipment_ingest(
        merchant=merchant_a,
        now=NOW,
        payload={
            "external_id": "ful-1",
            "order_external_id": "ord-1001",
            "status": "out_for_delivery",
        },
    )

    # when: an undated "in transit" arrives late
    late = shipment_ingest(
        merchant=merchant_a,
        now=NOW,
        payload={"external_id": "ful-1", "order_external_id": "ord-1001", "status": "in_transit"},
    )

    # then
    assert Shipment.unscoped.get().status == "out_for_delivery"
    assert late.events == []


def test_shipped_at_is_never_after_delivered_at(merchant_a, order):
    # given: an undated "in transit" (shipped_at = the time we heard it)
    shipment = shipment_ingest(
        merchant=merchant_a,
        now=NOW,
        payload={"external_id": "ful-1", "order_external_id": "ord-1001", "status": "in_transit"},
    ).instance

    # when: the carrier's delivery scan, dated earlier, arrives
    shipment_tracking_update(
        merchant=merchant_a,
        shipment=shipment,
        now=NOW,
        checkpoint=checkpoint("delivered", "2026-03-09T07:00:00Z"),
    )

    # then
    shipment.refresh_from_db()
    assert shipment.delivered_at == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
    assert shipment.shipped_at == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)


def test_shipments_raise_but_never_lower_the_fulfillment_the_store_declared(merchant_a):
    # given: a two-line order the store says is fulfilled (the cap, say, a gift card)
    order_ingest(
        merchant=merchant_a,
        now=NOW,
        payload=two_line_order_payload(fulfillment_status="fulfilled"),
    )

    # when: only the sock ships with tracked lines
    shipment_ingest(
        merchant=merchant_a,
        now=NOW,
        payload={
            "external_id": "ful-1",
            "order_external_id": "ord-1001",
            "lines": [{"line_external_id": "l1", "quantity": 1}],
        },
    )

    # then
    assert Order.unscoped.get().fulfillment_status == "fulfilled"


def test_a_status_time_without_a_status_names_its_field(merchant_a, order):
    with pytest.raises(DomainError) as excinfo:
        shipment_ingest(
            merchant=merchant_a, now=NOW, payload=shipment_payload(status_at="2026-03-02T09:00:00Z")
        )

    assert excinfo.value.field == "status_at"


def test_a_new_shipment_keeps_its_own_undated_status(merchant_a, order):
    result = shipment_ingest(
        merchant=merchant_a,
        now=NOW,
        payload={
            "external_id": "ful-1",
            "order_external_id": "ord-1001",
            "status": "delivered",
            "shipped_at": "2026-03-02T09:00:00Z",
        },
    )

    shipment = Shipment.unscoped.get()
    assert shipment.status == "delivered"
    assert "shipment.delivered" in result.events


def test_a_scan_at_the_same_instant_never_moves_the_parcel_back(merchant_a, order):
    shipment = shipment_ingest(
        merchant=merchant_a,
        now=NOW,
        payload=shipment_payload(checkpoints=[checkpoint("delivered", "2026-03-04T15:30:00Z")]),
    ).instance

    tie = shipment_tracking_update(
        merchant=merchant_a,
        shipment=shipment,
        now=NOW,
        checkpoint=checkpoint("in_transit", "2026-03-04T15:30:00Z"),
    )

    shipment.refresh_from_db()
    assert (shipment.status, tie.events) == ("delivered", [])


def test_a_late_older_scan_still_lowers_shipped_at(merchant_a, order):
    shipment = shipment_ingest(
        merchant=merchant_a,
        now=NOW,
        payload=shipment_payload(checkpoints=[checkpoint("delivered", "2026-03-05T10:00:00Z")]),
    ).instance

    shipment_tracking_update(
        merchant=merchant_a,
        shipment=shipment,
        now=NOW,
        checkpoint=checkpoint("in_transit", "2026-03-02T09:00:00Z"),
    )

    shipment.refresh_from_db()
    assert shipment.status == "delivered"
    assert shipment.shipped_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        {"k": float("nan")},
        {"k": "\ud800"},
        {"k": "a\x00b"},
    ],
)
def test_raw_checkpoint_payloads_postgres_cannot_store_are_refused(merchant_a, order, raw):
    bad = checkpoint("in_transit", "2026-03-02T09:00:00Z", raw=raw)

    with pytest.raises(DomainError) as excinfo:
        shipment_ingest(merchant=merchant_a, payload=shipment_payload(checkpoints=[bad]), now=NOW)

    assert excinfo.value.field == "checkpoints[0].raw"


def test_a_deeply_nested_raw_payload_is_refused_without_recursion(merchant_a, order):
    deep = {}
    inner = deep
    for _ in range(5000):
        inner["k"] = {}
        inner = inner["k"]

    with pytest.raises(DomainError) as excinfo:
        shipment_ingest(
            merchant=merchant_a,
            now=NOW,
            payload=shipment_payload(
                checkpoints=[checkpoint("in_transit", "2026-03-02T09:00:00Z", raw=deep)]
            ),
        )

    assert excinfo.value.field == "checkpoints[0].raw"


def test_the_longest_external_ids_fit_their_event_keys(merchant_a, order):
    long_id = "s" * 255

    result = shipment_ingest(
        merchant=merchant_a,
        now=NOW,
        payload=shipment_payload(
            external_id=long_id, checkpoints=[checkpoint("in_transit", "2026-03-02T09:00:00Z")]
        ),
    )

    assert result.events == ["shipment.created", "shipment.in_transit", "order.fulfilled"]
