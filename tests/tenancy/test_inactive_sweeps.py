"""Every sweep and tick passes over an inactive merchant: whatever of its work is still due
(written after its deactivation, or left by a worker that died) waits for its reactivation.

Each test switches merchant A's flag off by itself, without the deactivation service's
cleanup, so that it is the sweep's own filter being tested; merchant B shows the sweep still
works for everyone else."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from connectors import processing as connectors_processing
from connectors.models import InboundDelivery
from journeys.models import Enrollment, Journey
from journeys.scheduled import journeys_scheduled_entries
from journeys.services import journey_publish, journey_save, journeys_tick
from notifications import delivery
from notifications.models import Message, MessageTemplate
from notifications.services import message_send
from postpurchase.tenancy.models import Merchant
from tests.factories import CustomerFactory
from tests.journeys.engine_helpers import hello
from webhooks import services as webhooks_services
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_endpoint_create, webhook_endpoint_send_test

NOON = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def shops(merchant_a, merchant_b):
    for merchant in (merchant_a, merchant_b):
        hello(merchant)
    return merchant_a, merchant_b


def switch_off(merchant) -> None:
    Merchant.objects.filter(pk=merchant.pk).update(is_active=False)


def merchant_template(merchant) -> MessageTemplate:
    return MessageTemplate.unscoped.get(merchant=merchant, key="hello")


def live_journey(merchant, trigger) -> Journey:
    journey = journey_save(
        merchant=merchant,
        key="j",
        name="J",
        definition={
            "trigger": trigger,
            "start": "s",
            "steps": [{"id": "s", "type": "send", "template": "hello"}],
        },
    )
    journey_publish(journey=journey, now=NOON)
    return Journey.unscoped.get(pk=journey.pk)


def test_the_messages_sweep_passes_over_an_inactive_merchant(shops, monkeypatch):
    # given: a message each, claimed, whose hand-off was lost (the lease is over)
    merchant_a, merchant_b = shops
    handed = []
    monkeypatch.setattr(
        delivery, "_enqueue", lambda ids, claim, m, bulk=False: handed.append((ids, m))
    )
    messages = {}
    for merchant in shops:
        customer = CustomerFactory(merchant=merchant, timezone="UTC")
        messages[merchant.pk] = message_send(
            merchant=merchant,
            template=merchant_template(merchant),
            customer=customer,
            context={},
            idempotency_key="k",
            now=NOON,
        )
    switch_off(merchant_a)

    # when
    swept = delivery.messages_due_sweep(now=NOON + delivery.LEASE + timedelta(seconds=1))

    # then: only B's was claimed again; A's waits as it was
    assert swept == [messages[merchant_b.pk].pk]
    assert handed == [([messages[merchant_b.pk].pk], merchant_b.pk)]
    a_message = Message.unscoped.get(pk=messages[merchant_a.pk].pk)
    assert (a_message.status, a_message.claim, a_message.next_attempt_at) == (
        "queued",
        messages[merchant_a.pk].claim,
        NOON + delivery.LEASE,
    )


def test_the_journeys_tick_passes_over_an_inactive_merchant(shops):
    # given: an enrollment each in a live journey, due
    merchant_a, merchant_b = shops
    enrollments = {}
    for merchant in shops:
        journey = live_journey(merchant, {"event": "order.placed"})
        enrollments[merchant.pk] = Enrollment.unscoped.create(
            merchant=merchant,
            journey=journey,
            version=journey.live_version,
            customer=CustomerFactory(merchant=merchant, timezone="UTC"),
            key="customer",
            current_step="s",
            next_run_at=NOON,
            entered_at=NOON,
        )
    switch_off(merchant_a)

    # when
    advanced = journeys_tick(now=NOON + timedelta(minutes=1))

    # then: B's sent its message and completed; A's holds where it was
    assert advanced == 1
    assert list(Message.unscoped.values_list("merchant_id", flat=True)) == [merchant_b.pk]
    a_enrollment = Enrollment.unscoped.get(pk=enrollments[merchant_a.pk].pk)
    assert (a_enrollment.state, a_enrollment.current_step, a_enrollment.next_run_at) == (
        "active",
        "s",
        NOON,
    )
    assert Enrollment.unscoped.get(pk=enrollments[merchant_b.pk].pk).state == "completed"


def test_the_scheduled_entries_pass_over_an_inactive_merchant(shops):
    # given: a birthday journey each, and a customer each whose birthday is today
    merchant_a, merchant_b = shops
    birthday = {"type": "date", "date": "customer.birthday", "yearly": True, "at": "09:00"}
    for merchant in shops:
        live_journey(merchant, birthday)
        CustomerFactory(merchant=merchant, birthday=date(1990, 6, 2), timezone="UTC")
    switch_off(merchant_a)

    # when
    entered = journeys_scheduled_entries(now=NOON)

    # then
    assert entered == 1
    assert list(Enrollment.unscoped.values_list("merchant_id", flat=True)) == [merchant_b.pk]


def test_the_webhook_sweep_passes_over_an_inactive_merchant(
    merchant_a, merchant_b, settings, monkeypatch
):
    # given: a test delivery each whose send task was lost (the lease is over)
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    sent = []
    monkeypatch.setattr(
        webhooks_services, "_enqueue_send", lambda pk, claim, m: sent.append((pk, m))
    )
    deliveries = {}
    for merchant in (merchant_a, merchant_b):
        endpoint = webhook_endpoint_create(
            merchant=merchant, url="http://127.0.0.1:9/hooks", event_types=["*"], now=NOON
        )
        deliveries[merchant.pk] = webhook_endpoint_send_test(endpoint=endpoint, now=NOON)
    switch_off(merchant_a)

    # when
    swept = webhooks_services.webhook_deliveries_sweep(
        now=NOON + webhooks_services.LEASE + timedelta(seconds=1)
    )

    # then
    assert swept == [deliveries[merchant_b.pk].pk]
    assert sent == [(deliveries[merchant_b.pk].pk, merchant_b.pk)]
    a_delivery = WebhookDelivery.unscoped.get(pk=deliveries[merchant_a.pk].pk)
    assert (a_delivery.status, a_delivery.claim) == ("pending", deliveries[merchant_a.pk].claim)


def test_the_inbound_sweep_passes_over_an_inactive_merchant(merchant_a, merchant_b, monkeypatch):
    # given: a store webhook each, received, whose processing task was lost
    enqueued = []
    monkeypatch.setattr(
        connectors_processing, "delivery_enqueue", lambda pk, m: enqueued.append((pk, m))
    )
    received = {
        merchant.pk: InboundDelivery.unscoped.create(
            merchant=merchant,
            source="shopify",
            delivery_id="wh-1",
            topic="orders/create",
            received_at=NOON,
            next_attempt_at=NOON + timedelta(minutes=2),
        )
        for merchant in (merchant_a, merchant_b)
    }
    switch_off(merchant_a)

    # when
    swept = connectors_processing.inbound_delivery_sweep(now=NOON + timedelta(minutes=3))

    # then: A's waits for its reactivation, untouched
    assert swept == [received[merchant_b.pk].pk]
    assert enqueued == [(received[merchant_b.pk].pk, merchant_b.pk)]
    a_delivery = InboundDelivery.unscoped.get(pk=received[merchant_a.pk].pk)
    assert (a_delivery.status, a_delivery.next_attempt_at) == (
        "received",
        NOON + timedelta(minutes=2),
    )
