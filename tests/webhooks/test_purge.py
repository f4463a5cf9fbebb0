"""The purge of finished deliveries: it goes on batch after batch until one comes back short
or its time budget is spent, and its query can use the ``webhook_delivery_finished`` index."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.webhooks.conftest import T0
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from webhooks.purge import PURGE_BUDGET, webhook_deliveries_purge
from webhooks.services import webhook_endpoint_create, webhook_endpoint_send_test

OLD = T0 - timedelta(days=31)


@pytest.fixture
def endpoint(merchant_a, dns):
    return webhook_endpoint_create(
        merchant=merchant_a, url="https://hooks.example/in", event_types=["*"], now=OLD
    )


def finished_deliveries(endpoint, count: int, *, made_at=OLD) -> list[int]:
    ids = []
    for _ in range(count):
        delivery = webhook_endpoint_send_test(endpoint=endpoint, now=made_at)
        WebhookDelivery.unscoped.filter(pk=delivery.pk).update(status=DeliveryStatus.SUCCEEDED)
        WebhookAttempt.unscoped.create(
            merchant_id=endpoint.merchant_id, delivery=delivery, number=1, attempted_at=made_at
        )
        ids.append(delivery.pk)
    return ids


def test_the_purge_goes_on_until_a_batch_comes_back_short(endpoint, in_a):
    # given: five old finished deliveries, one fresh one, and batches of two
    finished_deliveries(endpoint, 5)
    [fresh] = finished_deliveries(endpoint, 1, made_at=T0)

    # when
    purged = webhook_deliveries_purge(now=T0, batch_size=2)

    # then: three batches (2, 2, 1) in one run
    assert purged == 5
    assert list(WebhookDelivery.unscoped.values_list("pk", flat=True)) == [fresh]
    assert WebhookAttempt.unscoped.count() == 1


def test_the_purge_stops_when_its_time_budget_is_spent(endpoint, in_a):
    # given: five old finished deliveries, and a clock that passes the budget after a batch
    old = finished_deliveries(endpoint, 5)
    budget = PURGE_BUDGET.total_seconds()
    clock = itertools.chain([0.0, budget - 1, budget], itertools.repeat(budget + 1)).__next__

    # when
    purged = webhook_deliveries_purge(now=T0, batch_size=2, clock=clock)

    # then: two batches, then it stopped; the next run takes the rest
    assert purged == 4
    assert list(WebhookDelivery.unscoped.values_list("pk", flat=True)) == old[4:]
    assert webhook_deliveries_purge(now=T0, batch_size=2) == 1


def test_the_purge_query_can_use_the_finished_deliveries_index(endpoint, in_a):
    # given
    finished_deliveries(endpoint, 1)
    with CaptureQueriesContext(connection) as queries:
        webhook_deliveries_purge(now=T0)
    select = queries.captured_queries[0]["sql"]  # the batch's ids; the deletes come after
    assert select.startswith('SELECT "webhooks_webhookdelivery"."id"'), select

    # when: the planner may not fall back on reading the whole table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + select)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    # then
    assert "webhook_delivery_finished" in plan, plan
