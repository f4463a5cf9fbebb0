"""Idempotency-Key on POST and PATCH: replay, mismatch, in flight, server errors, expiry."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from orders.api import orders as orders_api
from orders.models import Order
from postpurchase.api.idempotency import idempotency_purge
from postpurchase.api.models import IdempotencyRecord
from postpurchase.events.models import Event
from tests.conftest import client_for
from tests.factories import order_payload

pytestmark = pytest.mark.django_db


def post(client, body, key, url="/api/v1/orders"):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_the_same_key_and_body_replays_the_first_response(api_a):
    # given
    first = post(api_a, order_payload(), "key-1")

    # when: the retry changes the order in between, which a replay must not show
    Order.unscoped.update(number="#changed")
    again = post(api_a, order_payload(), "key-1")

    # then
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Order.unscoped.count() == 1
    assert Event.unscoped.count() == 1


def test_a_replay_matches_json_by_content_not_by_spacing(api_a):
    body = order_payload()
    first = post(api_a, body, "key-1")

    reordered = dict(reversed(list(body.items())))
    again = post(api_a, reordered, "key-1")

    assert again.status_code == 201
    assert again.json() == first.json()


def test_the_same_key_with_another_body_is_422(api_a):
    post(api_a, order_payload(), "key-1")

    response = post(api_a, order_payload(number="#other"), "key-1")

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_key_reused"
    assert Order.unscoped.get().number == "#1001"


def test_the_same_key_on_another_endpoint_is_422(api_a):
    post(api_a, order_payload(), "key-1")

    response = post(api_a, order_payload(), "key-1", url="/api/v1/orders/bulk")

    assert response.status_code == 422


def test_the_same_key_with_another_query_string_is_422(api_a):
    # given: the query is part of the request (?expand= changes the answer, ?draft= what runs)
    first = post(api_a, order_payload(), "key-1")

    # when
    other_query = post(api_a, order_payload(), "key-1", url="/api/v1/orders?expand=shipments")

    # then
    assert first.status_code == 201
    assert other_query.status_code == 422
    assert other_query.json()["code"] == "idempotency_key_reused"


def test_a_query_string_in_another_order_is_the_same_request(api_a):
    url = "/api/v1/orders?expand=shipments&a=1"
    first = post(api_a, order_payload(), "key-1", url=url)

    again = post(api_a, order_payload(), "key-1", url="/api/v1/orders?a=1&expand=shipments")

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert Order.unscoped.count() == 1


def test_an_error_response_is_replayed_too(api_a):
    bad = order_payload(total="-1")
    first = post(api_a, bad, "key-1")

    again = post(api_a, bad, "key-1")

    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()
    assert again["Content-Type"] == "application/problem+json"


def test_keys_are_per_merchant(api_a, api_b):
    a = post(api_a, order_payload(), "shared-key")
    b = post(api_b, order_payload(currency="EUR"), "shared-key")

    assert (a.status_code, b.status_code) == (201, 201)
    assert Order.unscoped.count() == 2


def test_a_server_error_gives_the_key_back(api_a, monkeypatch):
    # given: the first try fails on our side
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(orders_api, "order_ingest", broken)
    first = post(api_a, order_payload(), "key-1")
    monkeypatch.undo()

    # when
    retry = post(api_a, order_payload(), "key-1")

    # then
    assert first.status_code == 500
    assert first["Content-Type"] == "application/problem+json"
    assert retry.status_code == 201
    assert IdempotencyRecord.unscoped.get().response_status == 201


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "naïve"])
def test_a_malformed_key_is_400(api_a, key):
    response = post(api_a, order_payload(), key)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["Idempotency-Key"]
    assert Order.unscoped.count() == 0


def test_get_ignores_the_header(api_a):
    response = api_a.get("/api/v1/orders", HTTP_IDEMPOTENCY_KEY="key-1")

    assert response.status_code == 200
    assert IdempotencyRecord.unscoped.count() == 0


def test_expired_records_are_purged_and_the_key_works_again(api_a):
    post(api_a, order_payload(), "key-1")
    IdempotencyRecord.unscoped.update(expires_at=timezone.now() - timedelta(seconds=1))

    purged = idempotency_purge(now=timezone.now())
    again = post(api_a, order_payload(number="#new"), "key-1")

    assert purged == 1
    assert again.status_code == 200
    assert Order.unscoped.get().number == "#new"


def test_an_abandoned_claim_is_taken_over_after_five_minutes(api_a, merchant_a):
    # given: a claim left by a process that died mid-request
    post(api_a, order_payload(), "key-1")
    IdempotencyRecord.unscoped.update(
        response_status=None, created_at=timezone.now() - timedelta(minutes=6)
    )

    # when
    retry = post(api_a, order_payload(), "key-1")

    # then: it runs for real (the order exists already, so unchanged)
    assert retry.status_code == 200
    assert retry["Ingest-Result"] == "unchanged"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_one_wins_the_other_gets_409(merchant_a, monkeypatch):
    # given: the first request is held inside the service until the second has answered
    inside, release = threading.Event(), threading.Event()
    real = orders_api.order_ingest

    def held(**kwargs):
        inside.set()
        assert release.wait(10)
        return real(**kwargs)

    monkeypatch.setattr(orders_api, "order_ingest", held)
    client_a, client_b = client_for(merchant_a), client_for(merchant_a)
    responses = {}

    def first():
        try:
            responses["first"] = post(client_a, order_payload(), "key-1")
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert inside.wait(10)
        # when
        responses["second"] = post(client_b, order_payload(), "key-1")
    finally:
        release.set()
        thread.join(10)

    # then
    assert responses["first"].status_code == 201
    assert responses["second"].status_code == 409
    assert responses["second"].json()["code"] == "idempotency_key_in_flight"
    assert Order.unscoped.count() == 1
    # and once the first has finished, the key replays its answer
    replay = post(client_b, order_payload(), "key-1")
    assert replay.status_code == 201
    assert replay.json() == responses["first"].json()


def test_stored_responses_are_encrypted_at_rest(api_a):
    post(api_a, {"email": "ada@example.net"}, "key-1", url="/api/v1/customers")
    replay = post(api_a, {"email": "ada@example.net"}, "key-1", url="/api/v1/customers")

    with connection.cursor() as cursor:
        cursor.execute("SELECT response_body FROM api_idempotencyrecord")
        (stored,) = cursor.fetchone()

    assert stored.startswith("fernet:")
    assert "ada@example.net" not in stored
    assert replay.json()["email"] == "ada@example.net"
