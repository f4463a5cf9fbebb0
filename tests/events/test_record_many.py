"""event_record_many: many events in one statement, the same outcome as event_record for each,
and one dispatch task for the lot."""

from datetime import UTC, datetime, timedelta

import pytest

from postpurchase.errors import DomainError
from postpurchase.events import services, tasks
from postpurchase.events.models import Event, EventConsumerRun
from postpurchase.events.registry import registry
from postpurchase.events.services import EventSpec, event_record, event_record_many
from postpurchase.lanes import BULK_MIN
from tests.factories import CustomerFactory, event_payload

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def placed(merchant):
    """A real order's ``order.placed`` payload: the suite records events strictly."""
    return event_payload("order.placed", merchant=merchant)


def test_each_spec_is_recorded_once_per_dedupe_key(merchant_a, merchant_b):
    # given: one key already used by merchant A, and the same key in merchant B
    customer = CustomerFactory(merchant=merchant_a)
    placed_a = placed(merchant_a)
    updated = event_payload("order.updated", merchant=merchant_a, customer=customer)
    event_record(
        merchant=merchant_a,
        type="order.placed",
        payload=placed(merchant_a),
        dedupe_key="k1",
        now=T0,
    )
    event_record(
        merchant=merchant_b,
        type="order.placed",
        payload=placed(merchant_b),
        dedupe_key="k2",
        now=T0,
    )

    # when
    ids = event_record_many(
        merchant=merchant_a,
        now=T0,
        events=[
            EventSpec(type="order.placed", dedupe_key="k1", payload=placed_a),
            EventSpec(type="order.updated", customer_id=customer.pk, payload=updated),
            EventSpec(
                type="order.placed",
                dedupe_key="k2",
                occurred_at=T0.replace(hour=8),
                payload=placed_a,
            ),
            EventSpec(type="order.placed", dedupe_key="k2", payload=placed_a),
            EventSpec(type="product.reviewed", source="api", payload=None),
        ],
    )

    # then
    assert ids[0] is None and ids[3] is None
    assert all(isinstance(pk, int) for pk in (ids[1], ids[2], ids[4]))
    assert ids[1] < ids[2] < ids[4]
    rows = Event.unscoped.filter(pk__in=ids[1::]).order_by("id")
    assert [
        (e.type, e.customer_id, e.payload, e.dedupe_key, e.source, e.occurred_at) for e in rows
    ] == [
        ("order.updated", customer.pk, updated, None, "", T0),
        ("order.placed", None, placed_a, "k2", "", T0.replace(hour=8)),
        ("product.reviewed", None, {}, None, "api", T0),
    ]
    assert {e.recorded_at for e in rows} == {T0}
    assert {(e.next_dispatch_at, e.dispatch_enqueued_at, e.dispatch_enqueues) for e in rows} == {
        (T0 + timedelta(minutes=10), T0, 1)
    }
    assert Event.unscoped.filter(merchant=merchant_a).count() == 4


def test_a_few_events_enqueue_their_merchants_pending_dispatch_after_commit(
    merchant_a, django_capture_on_commit_callbacks, monkeypatch
):
    # a request's or a webhook's few events join whatever the merchant has waiting
    pending, many = [], []
    monkeypatch.setattr(services, "_enqueue_pending", lambda m, ids: pending.append((m, ids)))
    monkeypatch.setattr(services, "_enqueue_dispatch_many", lambda ids, m: many.append((ids, m)))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ids = event_record_many(
            merchant=merchant_a,
            events=[
                EventSpec(type="order.placed", payload=placed(merchant_a)),
                EventSpec(
                    type="order.updated",
                    payload=event_payload("order.updated", merchant=merchant_a),
                ),
            ],
        )
        assert pending == []

    assert len(callbacks) == 1
    assert (pending, many) == ([(merchant_a.pk, ids)], [])


def test_many_events_enqueue_one_dispatch_task_of_their_own_after_commit(
    merchant_a, django_capture_on_commit_callbacks, monkeypatch
):
    pending, many = [], []
    monkeypatch.setattr(services, "_enqueue_pending", lambda m, ids: pending.append((m, ids)))
    monkeypatch.setattr(services, "_enqueue_dispatch_many", lambda ids, m: many.append((ids, m)))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ids = event_record_many(
            merchant=merchant_a,
            events=[
                EventSpec(type="order.placed", payload=placed(merchant_a)) for _ in range(BULK_MIN)
            ],
        )

    assert len(callbacks) == 1
    assert (pending, many) == ([], [(ids, merchant_a.pk)])
    assert len(ids) == BULK_MIN


def test_nothing_new_enqueues_nothing(merchant_a, django_capture_on_commit_callbacks):
    event_record(
        merchant=merchant_a, type="order.placed", payload=placed(merchant_a), dedupe_key="k"
    )

    with django_capture_on_commit_callbacks() as callbacks:
        ids = event_record_many(
            merchant=merchant_a,
            events=[EventSpec(type="order.placed", dedupe_key="k", payload=placed(merchant_a))],
        )

    assert ids == [None]
    assert len(callbacks) == 0


def test_a_bad_type_refuses_the_whole_call(merchant_a):
    with pytest.raises(DomainError) as excinfo:
        event_record_many(
            merchant=merchant_a,
            events=[
                EventSpec(type="order.placed", payload=placed(merchant_a)),
                EventSpec(type="Order Placed"),
            ],
        )

    assert excinfo.value.field == "type"
    assert Event.unscoped.count() == 0


def test_the_batch_task_hands_the_events_to_a_consumer_in_one_batch(merchant_a):
    # given
    ids = event_record_many(
        merchant=merchant_a,
        events=[EventSpec(type="order.placed", payload=placed(merchant_a)), EventSpec(type="a.b")],
    )
    batches, alone = [], []

    # when
    with registry.temporarily(
        "*",
        "test.batch",
        lambda event: alone.append(event.pk),
        batch_handler=lambda events: batches.append([event.pk for event in events]),
    ):
        count = tasks.event_dispatch_many_task.run(
            event_ids=[*ids, 999_999], merchant_id=merchant_a.pk
        )

    # then: a missing id (an event deleted since) is skipped; both went in one call
    assert count == 2
    assert batches == [ids]
    assert alone == []
    assert sorted(
        EventConsumerRun.objects.filter(consumer="test.batch").values_list("event_id", "status")
    ) == [(ids[0], "done"), (ids[1], "done")]
    assert Event.unscoped.filter(pk__in=ids, next_dispatch_at__isnull=True).count() == 2
