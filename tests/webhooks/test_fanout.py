"""The fan-out consumer: one delivery per enabled, subscribed endpoint, exactly once, written in
the event consumer's transaction and sent after commit."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postpurchase.events.models import EventConsumerRun
from postpurchase.events.registry import registry
from postpurchase.events.services import event_dispatch, event_record
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import typed_payload
from tests.webhooks.conftest import T0
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    CONSUMER_NAME,
    webhook_deliveries_for_event,
    webhook_deliveries_for_events,
    webhook_endpoint_create,
    webhook_endpoint_disable,
    webhooks_fan_out,
    webhooks_fan_out_many,
)

PLACED = typed_payload("order.placed")
CANCELLED = typed_payload("order.cancelled")

pytestmark = pytest.mark.usefixtures("dns")


def make_endpoint(merchant, event_types, *, url="https://hooks.example/in"):
    return webhook_endpoint_create(merchant=merchant, url=url, event_types=event_types, now=T0)


@pytest.fixture
def endpoints(merchant_a, merchant_b):
    """A's endpoints: all events, order.placed only, shipments only, and a disabled one; and
    one of B's for every event."""
    every = make_endpoint(merchant_a, ["*"], url="https://a.example/all")
    placed = make_endpoint(
        merchant_a, ["order.placed", "order.cancelled"], url="https://a.example/o"
    )
    make_endpoint(merchant_a, ["shipment.delivered"], url="https://a.example/s")
    disabled = make_endpoint(merchant_a, ["*"], url="https://a.example/off")
    with merchant_scope(merchant_a):
        webhook_endpoint_disable(endpoint=disabled, reason="Paused.")
    make_endpoint(merchant_b, ["*"], url="https://b.example/all")
    return {"every": every, "placed": placed}


def test_the_app_subscribes_its_fan_out_to_every_event():
    consumer = registry.get(CONSUMER_NAME)

    assert consumer.event_types == frozenset({"*"})
    assert consumer.handler is webhooks_fan_out
    assert consumer.batch_handler is webhooks_fan_out_many


def test_a_batch_of_events_makes_every_delivery_in_one_statement(
    merchant_a, endpoints, enqueued, django_capture_on_commit_callbacks
):
    # given: three events of A's, one that no endpoint of A's but "every" wants
    placed, _ = event_record(merchant=merchant_a, type="order.placed", payload=PLACED, now=T0)
    cancelled, _ = event_record(
        merchant=merchant_a, type="order.cancelled", payload=CANCELLED, now=T0
    )
    custom, _ = event_record(merchant=merchant_a, type="shop.note", payload={"n": 1}, now=T0)
    events = [placed, cancelled, custom]

    # when
    with (
        merchant_scope(merchant_a),
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as queries,
    ):
        created = webhook_deliveries_for_events(events=events, now=T0)

    # then: the endpoints read once, the deliveries written at once, each send enqueued
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    deliveries = WebhookDelivery.unscoped.order_by("event_id", "endpoint_id")
    assert [(d.event_id, d.endpoint_id) for d in deliveries] == [
        (placed.pk, endpoints["every"].pk),
        (placed.pk, endpoints["placed"].pk),
        (cancelled.pk, endpoints["every"].pk),
        (cancelled.pk, endpoints["placed"].pk),
        (custom.pk, endpoints["every"].pk),
    ]
    assert sorted(created) == sorted(d.pk for d in deliveries)
    assert sorted(pk for pk, _, _ in enqueued) == sorted(created)
    assert {merchant for _, _, merchant in enqueued} == {merchant_a.pk}
    assert len(queries) == 3  # the endpoints, the insert, the ids


def test_dispatch_creates_one_delivery_per_matching_endpoint_and_enqueues_after_commit(
    merchant_a, endpoints, enqueued, django_capture_on_commit_callbacks
):
    # given
    event, _ = event_record(merchant=merchant_a, type="order.placed", payload=PLACED, now=T0)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        outcome = event_dispatch(event=event, now=T0)
        assert enqueued == []  # nothing leaves before the commit

    # then
    assert outcome[CONSUMER_NAME] == "done"
    deliveries = WebhookDelivery.unscoped.order_by("endpoint_id")
    assert [(d.endpoint_id, d.event_id, d.event_type, d.status) for d in deliveries] == [
        (endpoints["every"].pk, event.pk, "order.placed", "pending"),
        (endpoints["placed"].pk, event.pk, "order.placed", "pending"),
    ]
    assert sorted((pk, merchant) for pk, _, merchant in enqueued) == sorted(
        (d.pk, merchant_a.pk) for d in deliveries
    )
    assert all(claim == deliveries[0].claim != "" for _, claim, _ in enqueued)
    first, second = deliveries
    assert first.message_id != second.message_id
    assert first.message_id.startswith("msg_") and "." not in first.message_id
    assert json.loads(first.body) == {
        "type": "order.placed",
        "timestamp": "2026-04-01T09:00:00Z",
        "data": {**PLACED, "event_id": event.pk, "customer": None},
    }


def test_the_consumer_run_twice_still_makes_one_delivery_per_endpoint(
    merchant_a, endpoints, enqueued, django_capture_on_commit_callbacks
):
    # given
    event, _ = event_record(merchant=merchant_a, type="order.cancelled", payload=CANCELLED, now=T0)

    # when: the handler runs twice (a replay, or a retry after a crash past the commit)
    with merchant_scope(merchant_a), django_capture_on_commit_callbacks(execute=True):
        created_first = webhook_deliveries_for_event(event=event, now=T0)
        created_again = webhook_deliveries_for_event(event=event, now=T0)

    # then
    assert len(created_first) == 2
    assert created_again == []
    assert WebhookDelivery.unscoped.filter(event=event).count() == 2
    assert sorted(pk for pk, _, _ in enqueued) == sorted(created_first)


def test_dispatching_an_event_twice_runs_the_consumer_once(
    merchant_a, endpoints, enqueued, django_capture_on_commit_callbacks
):
    # given
    event, _ = event_record(merchant=merchant_a, type="order.placed", payload=PLACED, now=T0)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        event_dispatch(event=event, now=T0)
        event_dispatch(event=event, now=T0)

    # then
    assert WebhookDelivery.unscoped.count() == 2
    run = EventConsumerRun.objects.get(event=event, consumer=CONSUMER_NAME)
    assert (run.status, run.attempts) == ("done", 1)


def test_events_nobody_subscribed_to_make_no_deliveries(merchant_a, endpoints, enqueued):
    # given: only the every-event endpoint wants an unlisted custom event
    event, _ = event_record(merchant=merchant_a, type="product.setup_completed", now=T0)

    # when
    event_dispatch(event=event, now=T0)

    # then
    assert list(WebhookDelivery.unscoped.values_list("endpoint_id", flat=True)) == [
        endpoints["every"].pk
    ]


def test_another_merchants_event_reaches_only_that_merchants_endpoints(
    merchant_b, endpoints, enqueued
):
    # given
    event, _ = event_record(merchant=merchant_b, type="order.placed", payload=PLACED, now=T0)

    # when
    event_dispatch(event=event, now=T0)

    # then
    [delivery] = WebhookDelivery.unscoped.all()
    assert delivery.merchant_id == merchant_b.pk
    assert WebhookEndpoint.unscoped.get(pk=delivery.endpoint_id).merchant_id == merchant_b.pk
