"""Changing an endpoint: a new URL starts a new failure streak, and checking it (a DNS lookup
that may be slow) happens before the endpoint's row is locked."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction

from postpurchase.tenancy.scoping import merchant_scope
from tests.webhooks.conftest import PUBLIC_IP, T0
from webhooks import destinations
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_create, webhook_endpoint_update

WAIT = 10  # seconds; only reached when something is broken
LATER = T0.replace(hour=12)


@pytest.fixture
def failing_endpoint(merchant_a, dns):
    endpoint = webhook_endpoint_create(
        merchant=merchant_a, url="https://old.example/in", event_types=["*"], now=T0
    )
    WebhookEndpoint.unscoped.filter(pk=endpoint.pk).update(
        consecutive_failures=4, failing_since=T0, last_failure_at=T0
    )
    return endpoint


def streak(endpoint) -> tuple:
    endpoint.refresh_from_db()
    return endpoint.consecutive_failures, endpoint.failing_since, endpoint.last_failure_at


@pytest.mark.parametrize(
    ("data", "after"),
    [
        ({"url": "https://new.example/in"}, (0, None, T0)),
        ({"url": "https://old.example/in"}, (4, T0, T0)),  # the same URL
        ({"description": "ERP", "event_types": ["order.placed"]}, (4, T0, T0)),
    ],
    ids=["new-url", "same-url", "other-fields"],
)
def test_only_a_new_url_starts_a_new_failure_streak(failing_endpoint, in_a, data, after):
    # when
    webhook_endpoint_update(endpoint=failing_endpoint, data=data, now=LATER)

    # then: the last failure stays on record; the streak is the old receiver's
    assert streak(failing_endpoint) == after
    assert failing_endpoint.updated_at == LATER
    assert failing_endpoint.health == ("healthy" if after[0] == 0 else "failing")


@pytest.mark.django_db(transaction=True)
def test_a_slow_dns_answer_does_not_hold_the_endpoints_row(merchant_a, monkeypatch, dns):
    # given: an update whose URL check waits on a DNS answer the test gives when it likes
    endpoint = webhook_endpoint_create(
        merchant=merchant_a, url="https://old.example/in", event_types=["*"], now=T0
    )
    resolving, answer = threading.Event(), threading.Event()

    def slow_resolve(host: str, port: int) -> list[str]:
        resolving.set()
        answer.wait(WAIT)
        return [PUBLIC_IP]

    monkeypatch.setattr(destinations, "resolve", slow_resolve)

    def update():
        try:
            with merchant_scope(merchant_a):
                return webhook_endpoint_update(
                    endpoint=endpoint, data={"url": "https://new.example/in"}, now=LATER
                )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        updating = pool.submit(update)
        assert resolving.wait(WAIT), "the update never looked the host up"

        # when: another worker locks the endpoint while the lookup is pending
        with transaction.atomic():
            locked = WebhookEndpoint.unscoped.select_for_update(nowait=True).get(pk=endpoint.pk)
        answer.set()
        updated = updating.result(timeout=WAIT)

    # then: the row was free (NOWAIT raises on a held lock), and the update went through
    assert locked.url == "https://old.example/in"
    assert (
        WebhookEndpoint.unscoped.get(pk=endpoint.pk).url
        == updated.url
        == ("https://new.example/in")
    )
