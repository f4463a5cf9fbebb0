"""Sending: a real receiver verifies the Standard Webhooks signature; retries on failure with
backoff, driven by the sweep and an injected clock; giving up after 24 hours; auto-disable
with its email; one attempt per claim."""

from __future__ import annotations

import itertools
import json
import random
from datetime import timedelta

import pytest
from django.core import mail

from postpurchase.events.services import event_dispatch, event_record
from postpurchase.tenancy.permissions import Role
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import CustomerFactory, typed_payload
from tests.webhooks.conftest import T0, verify
from webhooks import purge, services
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    DISABLE_AFTER_FAILURES,
    LEASE,
    RETRY_WINDOW,
    webhook_deliveries_for_event,
    webhook_deliveries_sweep,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_send_test,
)

PLACED = typed_payload("order.placed", order_id=7, number="#1001", total="85.00")


@pytest.fixture
def endpoint(merchant_a, receiver):
    return webhook_endpoint_create(
        merchant=merchant_a, url=receiver.url, event_types=["order.placed"], now=T0
    )


def record_and_dispatch(merchant, capture, *, customer=None, now=T0, type="order.placed"):
    """Record an event and hand it to its consumers, committing as a worker would."""
    with capture(execute=True):
        event, _ = event_record(
            merchant=merchant,
            type=type,
            customer=customer,
            payload=PLACED,
            occurred_at=now,
            now=now,
        )
    with capture(execute=True):
        event_dispatch(event=event, now=now)
    return event


def test_delivery_carries_a_signature_a_spec_receiver_accepts(
    merchant_a, endpoint, receiver, enqueued, run_queue, django_capture_on_commit_callbacks
):
    # given
    customer = CustomerFactory(merchant=merchant_a, external_id="cust-9")
    event = record_and_dispatch(merchant_a, django_capture_on_commit_callbacks, customer=customer)

    # when
    [attempt] = run_queue(T0)

    # then
    [request] = receiver.requests
    assert request.path == "/hooks"
    assert request.headers["content-type"] == "application/json"
    delivery = WebhookDelivery.unscoped.get()
    assert request.headers["webhook-id"] == delivery.message_id
    assert request.headers["webhook-timestamp"] == str(int(T0.timestamp()))
    body = verify(secret=endpoint.secret, headers=request.headers, body=request.body, now=T0)
    assert body == {
        "type": "order.placed",
        "timestamp": "2026-04-01T09:00:00Z",
        "data": {
            **PLACED,
            "event_id": event.pk,
            "customer": {"id": customer.pk, "external_id": "cust-9"},
        },
    }
    assert (attempt.number, attempt.succeeded, attempt.status_code) == (1, True, 200)
    assert attempt.response_excerpt == "ok"
    assert attempt.latency_ms >= 0
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        DeliveryStatus.SUCCEEDED,
        1,
        None,
    )
    assert WebhookEndpoint.unscoped.get().last_success_at == T0


def test_a_forged_or_stale_request_fails_the_receivers_check(
    merchant_a, endpoint, receiver, run_queue, django_capture_on_commit_callbacks
):
    # given
    record_and_dispatch(merchant_a, django_capture_on_commit_callbacks)
    run_queue(T0)
    [request] = receiver.requests

    # then: another secret, a changed body, a replay an hour later all fail
    other = "whsec_" + "A" * 43 + "="
    with pytest.raises(AssertionError, match="bad signature"):
        verify(secret=other, headers=request.headers, body=request.body, now=T0)
    with pytest.raises(AssertionError, match="bad signature"):
        verify(secret=endpoint.secret, headers=request.headers, body=request.body + b" ", now=T0)
    with pytest.raises(AssertionError, match="stale timestamp"):
        verify(
            secret=endpoint.secret,
            headers=request.headers,
            body=request.body,
            now=T0 + timedelta(hours=1),
        )


def test_a_500_is_retried_by_the_sweep_with_backoff_then_succeeds(
    merchant_a, endpoint, receiver, enqueued, run_queue, django_capture_on_commit_callbacks
):
    # given: the receiver fails twice, then answers 204
    receiver.answer((500, "boom"), (503, "busy"), (204, ""))
    record_and_dispatch(merchant_a, django_capture_on_commit_callbacks)
    rng = random.Random(7)

    # when: the first attempt fails
    [first] = run_queue(T0, rng=rng)
    delivery = WebhookDelivery.unscoped.get()

    # then: the next is scheduled 22.5 to 30 s later, and a sweep before it finds nothing
    assert (first.status_code, first.succeeded, first.error) == (500, False, "HTTP 500")
    assert first.response_excerpt == "boom"
    assert delivery.status == DeliveryStatus.PENDING
    assert timedelta(seconds=22.5) <= delivery.next_attempt_at - T0 <= timedelta(seconds=30)
    assert webhook_deliveries_sweep(now=T0 + timedelta(seconds=20)) == []
    assert enqueued == []

    # when: the sweep runs once the retry is due
    second_at = delivery.next_attempt_at
    assert webhook_deliveries_sweep(now=second_at) == [delivery.pk]
    [second] = run_queue(second_at, rng=rng)
    delivery.refresh_from_db()
    third_at = delivery.next_attempt_at
    assert timedelta(seconds=90) <= third_at - second_at <= timedelta(seconds=120)
    webhook_deliveries_sweep(now=third_at)
    [third] = run_queue(third_at, rng=rng)

    # then
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.message_id] * 3
    assert [(a.number, a.status_code, a.succeeded) for a in (first, second, third)] == [
        (1, 500, False),
        (2, 503, False),
        (3, 204, True),
    ]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.first_attempt_at) == (
        DeliveryStatus.SUCCEEDED,
        3,
        T0,
    )
    endpoint = WebhookEndpoint.unscoped.get()
    assert (endpoint.consecutive_failures, endpoint.failing_since, endpoint.enabled) == (
        0,
        None,
        True,
    )


def test_delivery_gives_up_after_24_hours_with_the_last_attempt_at_the_deadline(
    merchant_a, endpoint, receiver, enqueued, run_queue, django_capture_on_commit_callbacks
):
    # given: an endpoint that always answers 500
    receiver.answer(*[(500, "down")] * 30)
    record_and_dispatch(merchant_a, django_capture_on_commit_callbacks)
    now = T0

    # when: every retry is run as soon as it is due
    run_queue(now)
    delivery = WebhookDelivery.unscoped.get()
    while delivery.next_attempt_at is not None:
        now = delivery.next_attempt_at
        webhook_deliveries_sweep(now=now)
        run_queue(now)
        delivery.refresh_from_db()

    # then: the last attempt fell exactly on the 24th hour, and the delivery failed for good
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_attempt_at == T0 + RETRY_WINDOW == delivery.finished_at
    assert 9 <= delivery.attempts <= 12
    assert len(receiver.requests) == delivery.attempts
    times = list(WebhookAttempt.unscoped.values_list("attempted_at", flat=True))
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert timedelta(seconds=22.5) <= gaps[0] <= timedelta(seconds=30)
    assert timedelta(seconds=90) <= gaps[1] <= timedelta(minutes=2)
    assert max(gaps) <= timedelta(hours=6)
    assert webhook_deliveries_sweep(now=now + timedelta(days=1)) == []


def test_an_endpoint_failing_every_attempt_for_24_hours_is_disabled_and_admins_are_emailed(
    merchant_a,
    member_of,
    endpoint,
    receiver,
    enqueued,
    run_queue,
    django_capture_on_commit_callbacks,
):
    # given: an owner, an admin and an editor; an endpoint that always answers 500
    member_of(merchant_a, Role.OWNER, email="owner@alpha.example")
    member_of(merchant_a, Role.ADMIN, email="admin@alpha.example")
    member_of(merchant_a, Role.EDITOR, email="editor@alpha.example")
    receiver.answer(*[(500, "down")] * 30)
    record_and_dispatch(merchant_a, django_capture_on_commit_callbacks)
    # and a second delivery queued behind the first
    record_and_dispatch(merchant_a, django_capture_on_commit_callbacks, now=T0)

    # when: retries run until nothing is due
    now = T0
    with django_capture_on_commit_callbacks(execute=True):
        run_queue(now)
        while due := WebhookDelivery.unscoped.filter(status="pending").order_by("next_attempt_at"):
            now = due.first().next_attempt_at
            webhook_deliveries_sweep(now=now)
            run_queue(now)

    # then: disabled at the first failure at least 24 hours into the streak
    endpoint = WebhookEndpoint.unscoped.get()
    assert endpoint.enabled is False
    assert endpoint.disabled_at == now == T0 + RETRY_WINDOW
    assert endpoint.consecutive_failures >= DISABLE_AFTER_FAILURES
    assert endpoint.disabled_reason == (
        "Every delivery attempt since 2026-04-01T09:00:00Z failed "
        f"({endpoint.consecutive_failures} in a row); the last: HTTP 500."
    )
    assert sorted(WebhookDelivery.unscoped.values_list("status", flat=True)) == [
        DeliveryStatus.CANCELLED,
        DeliveryStatus.FAILED,
    ]
    [email] = mail.outbox
    assert email.subject == f"Webhook endpoint disabled: {receiver.url}"
    assert sorted(email.to) == ["admin@alpha.example", "owner@alpha.example"]
    assert endpoint.disabled_reason in email.body
    assert f"/app/settings/webhooks/{endpoint.pk}/" in email.body


def test_a_410_gone_disables_the_endpoint_at_once(
    merchant_a, endpoint, receiver, run_queue, django_capture_on_commit_callbacks
):
    # given
    receiver.answer((410, "gone"))
    record_and_dispatch(merchant_a, django_capture_on_commit_callbacks)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        run_queue(T0)

    # then
    endpoint = WebhookEndpoint.unscoped.get()
    assert endpoint.enabled is False
    assert endpoint.disabled_reason == (
        "The endpoint answered 410 Gone on 2026-04-01T09:00:00Z: it asked not to be sent more."
    )
    assert WebhookDelivery.unscoped.get().status == DeliveryStatus.FAILED
    assert len(mail.outbox) == 0  # nobody to tell: no owners or admins in this merchant


def test_a_redirect_is_a_failure_and_is_not_followed(
    merchant_a, endpoint, receiver, run_queue, django_capture_on_commit_callbacks
):
    # given
    receiver.answer((302, "moved"))
    record_and_dispatch(merchant_a, django_capture_on_commit_callbacks)

    # when
    [attempt] = run_queue(T0)

    # then
    assert (attempt.status_code, attempt.succeeded, attempt.error) == (302, False, "HTTP 302")
    assert len(receiver.requests) == 1


def test_a_response_body_is_kept_to_its_first_kilobyte(
    merchant_a, endpoint, receiver, run_queue, django_capture_on_commit_callbacks
):
    # given
    receiver.answer((500, "é" * 5000))
    record_and_dispatch(merchant_a, django_capture_on_commit_callbacks)

    # when
    [attempt] = run_queue(T0)

    # then
    assert attempt.response_excerpt == "é" * 512
    assert len(attempt.response_excerpt.encode()) == 1024


def test_a_claim_is_used_once_so_a_redelivered_task_sends_nothing(
    merchant_a, endpoint, receiver, enqueued, run_queue, django_capture_on_commit_callbacks
):
    # given: the send task's message, delivered twice
    record_and_dispatch(merchant_a, django_capture_on_commit_callbacks)
    enqueued.append(enqueued[0])

    # when
    first, second = run_queue(T0)

    # then
    assert first.number == 1
    assert second is None
    assert len(receiver.requests) == 1


def test_a_lost_send_is_claimed_again_by_the_sweep_once_its_lease_runs_out(
    merchant_a, endpoint, receiver, enqueued, run_queue, django_capture_on_commit_callbacks
):
    # given: a delivery fanned out at T0 whose send task was lost with the broker
    event, _ = event_record(merchant=merchant_a, type="order.placed", payload=PLACED, now=T0)
    with merchant_scope(merchant_a), django_capture_on_commit_callbacks(execute=True):
        [delivery_id] = webhook_deliveries_for_event(event=event, now=T0)
    [(_, old_claim, _)] = enqueued
    enqueued.clear()

    # when
    early = webhook_deliveries_sweep(now=T0 + LEASE - timedelta(seconds=1))
    swept = webhook_deliveries_sweep(now=T0 + LEASE)

    # then: the old claim is void; the new one sends
    assert (early, swept) == ([], [delivery_id])
    [(_, new_claim, _)] = enqueued
    assert new_claim != old_claim
    with merchant_scope(merchant_a):
        assert services.webhook_delivery_send(delivery_id=delivery_id, claim=old_claim) is None
    [attempt] = run_queue(T0 + LEASE)
    assert attempt.succeeded is True


def test_a_rotated_secret_signs_beside_the_old_one_for_24_hours(
    merchant_a, endpoint, receiver, in_a, run_queue, django_capture_on_commit_callbacks
):
    # given
    old_secret = endpoint.secret
    endpoint = webhook_endpoint_rotate_secret(endpoint=endpoint, now=T0)
    later = T0 + timedelta(hours=25)

    # when: one test event now, one after the grace period
    with django_capture_on_commit_callbacks(execute=True):
        webhook_endpoint_send_test(endpoint=endpoint, now=T0)
    run_queue(T0)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_endpoint_send_test(endpoint=endpoint, now=later)
    run_queue(later)

    # then
    during, after = receiver.requests
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    verify(secret=old_secret, headers=during.headers, body=during.body, now=T0)
    verify(secret=endpoint.secret, headers=during.headers, body=during.body, now=T0)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    body = verify(secret=endpoint.secret, headers=after.headers, body=after.body, now=later)
    assert body["type"] == "webhook.test"
    assert body["data"] == {
        "endpoint_id": endpoint.pk,
        "message": "A test event: your endpoint works.",
    }
    with pytest.raises(AssertionError, match="bad signature"):
        verify(secret=old_secret, headers=after.headers, body=after.body, now=later)


def test_the_body_is_frozen_so_every_retry_sends_the_same_bytes(
    merchant_a, endpoint, receiver, enqueued, run_queue, django_capture_on_commit_callbacks
):
    # given
    receiver.answer((500, ""))
    record_and_dispatch(merchant_a, django_capture_on_commit_callbacks)
    run_queue(T0)
    delivery = WebhookDelivery.unscoped.get()

    # when
    webhook_deliveries_sweep(now=delivery.next_attempt_at)
    run_queue(delivery.next_attempt_at)

    # then
    first, second = receiver.requests
    assert first.body == second.body
    assert json.loads(second.body)["type"] == "order.placed"
    assert first.headers["webhook-timestamp"] != second.headers["webhook-timestamp"]


def test_a_retry_after_header_pushes_the_next_attempt_back(
    merchant_a, endpoint, receiver, run_queue, django_capture_on_commit_callbacks
):
    # given
    receiver.answer((503, "busy", {"Retry-After": "3600"}))
    record_and_dispatch(merchant_a, django_capture_on_commit_callbacks)

    # when
    run_queue(T0)

    # then
    assert WebhookDelivery.unscoped.get().next_attempt_at == T0 + timedelta(hours=1)


def test_finished_deliveries_are_purged_after_30_days(merchant_a, endpoint, in_a):
    # given: a test delivery of each status, made 31 days ago, and a fresh succeeded one
    old = T0 - timedelta(days=31)
    made = {}
    for status in DeliveryStatus.values:
        delivery = webhook_endpoint_send_test(endpoint=endpoint, now=old)
        WebhookDelivery.unscoped.filter(pk=delivery.pk).update(status=status)
        made[status] = delivery.pk
    WebhookAttempt.unscoped.create(
        merchant=merchant_a, delivery_id=made["failed"], number=1, attempted_at=old
    )
    fresh = webhook_endpoint_send_test(endpoint=endpoint, now=T0)
    WebhookDelivery.unscoped.filter(pk=fresh.pk).update(status=DeliveryStatus.SUCCEEDED)

    # when
    purged = purge.webhook_deliveries_purge(now=T0)

    # then: the old pending one stays until it is finished
    assert purged == 3
    assert sorted(WebhookDelivery.unscoped.values_list("pk", flat=True)) == sorted(
        [made["pending"], fresh.pk]
    )
    assert WebhookAttempt.unscoped.count() == 0
