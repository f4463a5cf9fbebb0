"""Per-merchant caps on outbound webhooks: how many endpoints a merchant may have (refused at
creation, naming the field), and how many of its requests may be in flight at once (a send over
the cap is deferred, not failed, and goes once a slot is free)."""

from __future__ import annotations

import pytest
import redis
from django.core.cache import cache

from postpurchase.errors import DomainError
from tests.webhooks.conftest import T0
from webhooks import concurrency
from webhooks.concurrency import send_slot_release, send_slot_take, send_slots_held
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    OVER_CAP_DEFER,
    webhook_deliveries_sweep,
    webhook_endpoint_create,
    webhook_endpoint_disable,
    webhook_endpoint_send_test,
)

LIST = "/api/v1/webhook-endpoints"


@pytest.fixture
def two_endpoints_at_most(settings):
    settings.WEBHOOKS_MAX_ENDPOINTS_PER_MERCHANT = 2


def test_a_merchant_at_its_endpoint_cap_is_refused_a_new_one_naming_the_field(
    merchant_a, merchant_b, in_a, dns, two_endpoints_at_most
):
    # given: A has two endpoints, one of them disabled (it still counts: it can be re-enabled)
    for n in (1, 2):
        last = webhook_endpoint_create(
            merchant=merchant_a, url=f"https://a.example/{n}", event_types=["*"], now=T0
        )
    webhook_endpoint_disable(endpoint=last, reason="Disabled by the merchant.", now=T0)

    # when
    with pytest.raises(DomainError) as refused:
        webhook_endpoint_create(
            merchant=merchant_a, url="https://a.example/3", event_types=["*"], now=T0
        )
    other = webhook_endpoint_create(
        merchant=merchant_b, url="https://b.example/1", event_types=["*"], now=T0
    )

    # then: nothing written for A; B is not held to A's count
    assert (refused.value.code, list(refused.value.fields)) == ("endpoint_limit_reached", ["url"])
    assert refused.value.message == (
        "A store can have at most 2 webhook endpoints: delete one you no longer use "
        "(one endpoint can subscribe to many event types)."
    )
    assert sorted(
        WebhookEndpoint.unscoped.filter(merchant=merchant_a).values_list("url", flat=True)
    ) == ["https://a.example/1", "https://a.example/2"]
    assert other.merchant_id == merchant_b.pk


def test_the_api_answers_the_endpoint_cap_as_a_problem_naming_the_url(
    api_a, merchant_a, dns, two_endpoints_at_most
):
    # given
    for n in (1, 2):
        webhook_endpoint_create(
            merchant=merchant_a, url=f"https://a.example/{n}", event_types=["*"], now=T0
        )

    # when
    response = api_a.post(LIST, {"url": "https://a.example/3", "event_types": ["*"]}, format="json")

    # then
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert list(response.json()["errors"]) == ["url"]
    assert WebhookEndpoint.unscoped.count() == 2


def test_a_send_over_the_in_flight_cap_is_deferred_not_failed_and_goes_later(
    merchant_a, merchant_b, receiver, settings, enqueued, run_queue
):
    # given: one request in flight at most per merchant, and A's slot held by a send under way
    settings.WEBHOOKS_MAX_IN_FLIGHT_PER_MERCHANT = 1
    held = send_slot_take(merchant_id=merchant_a.pk)
    endpoint_a = webhook_endpoint_create(
        merchant=merchant_a, url=receiver.url, event_types=["*"], now=T0
    )
    endpoint_b = webhook_endpoint_create(
        merchant=merchant_b, url=receiver.url, event_types=["*"], now=T0
    )
    waiting = webhook_endpoint_send_test(endpoint=endpoint_a, now=T0)
    going = webhook_endpoint_send_test(endpoint=endpoint_b, now=T0)
    enqueued.extend([(waiting.pk, waiting.claim, merchant_a.pk)])
    enqueued.extend([(going.pk, going.claim, merchant_b.pk)])

    # when: both sends run
    attempts = run_queue(T0)

    # then: B's went; A's was handed back, no attempt counted, due again shortly
    assert attempts[0] is None and attempts[1].succeeded is True
    assert [r.headers["webhook-id"] for r in receiver.requests] == [going.message_id]
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts, waiting.claim, waiting.next_attempt_at) == (
        "pending",
        0,
        "",
        T0 + OVER_CAP_DEFER,
    )
    assert WebhookAttempt.unscoped.filter(delivery=waiting).count() == 0

    # and when the slot is free, the sweep's next pass sends it
    send_slot_release(held)
    later = T0 + OVER_CAP_DEFER
    assert webhook_deliveries_sweep(now=later) == [waiting.pk]
    [attempt] = run_queue(later)
    assert (attempt.number, attempt.succeeded) == (1, True)
    assert WebhookDelivery.unscoped.get(pk=waiting.pk).status == "succeeded"
    assert [r.headers["webhook-id"] for r in receiver.requests] == [
        going.message_id,
        waiting.message_id,
    ]


def test_a_slot_is_held_only_while_its_request_is_in_flight(
    merchant_a, receiver, settings, run_queue, enqueued
):
    # given: a receiver that answers 500
    settings.WEBHOOKS_MAX_IN_FLIGHT_PER_MERCHANT = 2
    receiver.answer((500, "down"))
    endpoint = webhook_endpoint_create(
        merchant=merchant_a, url=receiver.url, event_types=["*"], now=T0
    )
    delivery = webhook_endpoint_send_test(endpoint=endpoint, now=T0)
    enqueued.append((delivery.pk, delivery.claim, merchant_a.pk))

    # when
    [attempt] = run_queue(T0)

    # then: the failure is recorded and retried as ever, and the slot is free again
    assert (attempt.succeeded, attempt.status_code) == (False, 500)
    assert send_slots_held(merchant_id=merchant_a.pk) == 0


def test_the_slots_are_numbered_up_to_the_cap_and_expire_on_their_own(merchant_a, settings):
    # given
    settings.WEBHOOKS_MAX_IN_FLIGHT_PER_MERCHANT = 2

    # when
    first = send_slot_take(merchant_id=merchant_a.pk)
    second = send_slot_take(merchant_id=merchant_a.pk)
    third = send_slot_take(merchant_id=merchant_a.pk)

    # then: two slots, the third refused; each expires after SLOT_TTL should its worker die
    assert (first.key.rsplit(":", 1)[1], second.key.rsplit(":", 1)[1], third) == ("0", "1", None)
    assert send_slots_held(merchant_id=merchant_a.pk) == 2
    store = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    assert 0 < store.ttl(cache.make_key(first.key)) <= concurrency.SLOT_TTL == 60
    send_slot_release(first)
    assert send_slots_held(merchant_id=merchant_a.pk) == 1
    assert send_slot_take(merchant_id=merchant_a.pk).key == first.key
