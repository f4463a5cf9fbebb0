"""webhooks.selectors: an endpoint's deliveries with their attempts, for the API's list and the
dashboard's log, read within the current merchant only (two merchants, alpha in scope)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from postpurchase.tenancy.scoping import merchant_scope
from tests.webhooks.conftest import T0
from webhooks import selectors
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.usefixtures("dns")


def delivery(endpoint, *, minutes: int, attempts: int = 0) -> WebhookDelivery:
    row = WebhookDelivery.unscoped.create(
        merchant=endpoint.merchant,
        endpoint=endpoint,
        event_type="order.placed",
        message_id=f"msg_{endpoint.pk}_{minutes}",
        body="{}",
        created_at=T0 + timedelta(minutes=minutes),
    )
    for number in range(1, attempts + 1):
        WebhookAttempt.unscoped.create(
            merchant=endpoint.merchant,
            delivery=row,
            number=number,
            attempted_at=T0,
            status_code=500 + number,
        )
    return row


@pytest.fixture
def endpoints(merchant_a, merchant_b):
    alpha = webhook_endpoint_create(
        merchant=merchant_a, url="https://a.example/hook", event_types=["order.placed"], now=T0
    )
    bravo = webhook_endpoint_create(
        merchant=merchant_b, url="https://b.example/hook", event_types=["*"], now=T0
    )
    return alpha, bravo


def test_deliveries_of_an_endpoint_come_with_their_attempts_in_two_queries(
    endpoints, merchant_a, django_assert_num_queries
):
    # given two of alpha's deliveries (one tried twice) and one of bravo's
    alpha, bravo = endpoints
    tried = delivery(alpha, minutes=1, attempts=2)
    fresh = delivery(alpha, minutes=2)
    delivery(bravo, minutes=3)

    # when alpha reads its endpoint's deliveries and their attempts
    with merchant_scope(merchant_a), django_assert_num_queries(2):
        rows = selectors.webhook_deliveries_of(endpoint_id=alpha.pk).order_by("id")
        seen = [(row.pk, [a.status_code for a in row.attempt_log.all()]) for row in rows]

    # then alpha's, each with its attempts in order, from one query for each
    assert seen == [(tried.pk, [501, 502]), (fresh.pk, [])]


def test_another_merchants_endpoint_and_deliveries_are_not_read(endpoints, merchant_a):
    # given a delivery to bravo's endpoint
    alpha, bravo = endpoints
    delivery(bravo, minutes=1)

    # when alpha asks for that endpoint and its deliveries
    with merchant_scope(merchant_a):
        endpoint = selectors.webhook_endpoint_get(endpoint_id=bravo.pk)
        rows = list(selectors.webhook_deliveries_of(endpoint_id=bravo.pk))
        own = selectors.webhook_endpoint_get(endpoint_id=alpha.pk)

    # then nothing of bravo's, alpha's own endpoint found
    assert endpoint is None
    assert rows == []
    assert own.pk == alpha.pk


def test_the_dashboards_deliveries_are_newest_first(endpoints, merchant_a):
    # given three of alpha's deliveries made one minute apart
    alpha, _ = endpoints
    first, second, third = (delivery(alpha, minutes=m) for m in (1, 2, 3))

    # when the dashboard's log reads them
    with merchant_scope(merchant_a):
        rows = [row.pk for row in selectors.webhook_deliveries(endpoint=alpha)]

    # then newest first
    assert rows == [third.pk, second.pk, first.pk]
