"""The claims API: list (by state, cursor-paginated), detail, and the three steps with their
problem+json errors, Idempotency-Key replays, read keys and another merchant's claims (404,
nothing changed)."""

from __future__ import annotations

import pytest

from orders.models import Order
from postpurchase.events.models import Event
from tests.conftest import client_for
from tests.tracking.claims.test_filing import WINDOW_LAST_MOMENT, file
from tracking.claims.models import Claim

pytestmark = pytest.mark.django_db


@pytest.fixture
def claims(merchant, parcel):
    """Two claims: C-1 (filed) and C-2 (rejected), of two customers."""
    first = file(merchant, *parcel("ord-1"), now=WINDOW_LAST_MOMENT)
    second = file(merchant, *parcel("ord-2", customer="cust-2"), now=WINDOW_LAST_MOMENT)
    Claim.unscoped.filter(pk=second.pk).update(state="rejected", decision_message="No.")
    return first, second


@pytest.fixture
def api(merchant):
    return client_for(merchant)


def test_list_newest_first_and_by_state(api, claims):
    first, _ = claims
    body = api.get("/api/v1/claims").json()
    assert [row["number"] for row in body["results"]] == ["C-2", "C-1"]
    assert body["next"] is None
    filed = api.get("/api/v1/claims?state=filed").json()["results"]
    assert [row["id"] for row in filed] == [first.pk]
    assert api.get("/api/v1/claims?state=lost").status_code == 400


def test_detail_says_everything_about_the_claim(api, claims):
    first, _ = claims
    body = api.get(f"/api/v1/claims/{first.pk}").json()
    photo = first.photos.get()
    assert body == {
        "id": first.pk,
        "number": "C-1",
        "kind": "damaged",
        "state": "filed",
        "statement": "Crushed",
        "decision_message": "",
        "resolution": None,
        "refund_amount": None,
        "currency": "USD",
        "replacement_order_id": None,
        "order_id": first.order_id,
        "order_number": "#ord-1",
        "shipment_id": first.shipment_id,
        "customer_id": first.customer_id,
        "photos": [
            {
                "id": photo.pk,
                "content_type": "image/png",
                "size": photo.size,
                "created_at": "2026-03-20T06:59:59Z",
            }
        ],
        "filed_at": "2026-03-20T06:59:59Z",
        "decided_at": None,
        "resolved_at": None,
        "updated_at": "2026-03-20T06:59:59Z",
    }


def test_approve_then_resolve_by_reship(api, claims):
    first, _ = claims
    approved = api.post(f"/api/v1/claims/{first.pk}/approve", {"message": "Sorry!"}, format="json")
    assert (approved.status_code, approved.json()["state"]) == (200, "approved")
    resolved = api.post(
        f"/api/v1/claims/{first.pk}/resolve",
        {"resolution": "reship"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="resolve-c1",
    )
    replacement = Order.unscoped.get(external_id="claim-1")
    assert resolved.status_code == 200
    assert (resolved.json()["resolution"], resolved.json()["replacement_order_id"]) == (
        "reship",
        replacement.pk,
    )
    # a retry with the same key replays the answer; nothing is placed twice
    again = api.post(
        f"/api/v1/claims/{first.pk}/resolve",
        {"resolution": "reship"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="resolve-c1",
    )
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (
        200,
        resolved.json(),
        "true",
    )
    assert Order.unscoped.filter(source="claim").count() == 1


def test_approve_without_a_body(api, claims):
    first, _ = claims
    response = api.post(f"/api/v1/claims/{first.pk}/approve")
    assert (response.status_code, response.json()["decision_message"]) == (200, "")


def test_an_illegal_step_is_a_409_problem_naming_the_state(api, claims):
    _, second = claims
    response = api.post(f"/api/v1/claims/{second.pk}/approve", {}, format="json")
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["code"], body["detail"]) == (
        "illegal_transition",
        "Claim C-2 is rejected: it cannot be approved.",
    )
    assert Claim.unscoped.get(pk=second.pk).state == "rejected"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("reject", {}, "message"),
        ("reject", {"message": "   "}, "message"),
        ("resolve", {"resolution": "credit"}, "resolution"),
        ("approve", {"message": "ok", "extra": 1}, "extra"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(api, claims, path, body, field):
    first, _ = claims
    response = api.post(f"/api/v1/claims/{first.pk}/{path}", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Claim.unscoped.get(pk=first.pk).state == "filed"


def test_a_read_key_cannot_take_a_step(merchant, claims):
    first, _ = claims
    response = client_for(merchant, scope="read").post(f"/api/v1/claims/{first.pk}/approve")
    assert response.status_code == 403
    assert Claim.unscoped.get(pk=first.pk).state == "filed"


@pytest.mark.parametrize("path", ["", "/approve", "/reject", "/resolve"])
def test_another_merchants_claim_is_not_found(claims, merchant_b, path):
    first, _ = claims
    before = Event.unscoped.count()
    api_b = client_for(merchant_b)
    response = (
        api_b.get(f"/api/v1/claims/{first.pk}")
        if not path
        else api_b.post(
            f"/api/v1/claims/{first.pk}{path}",
            {"message": "x", "resolution": "refund"} if path != "/approve" else {},
            format="json",
        )
    )
    assert response.status_code == 404
    assert Claim.unscoped.get(pk=first.pk).state == "filed"
    assert Event.unscoped.count() == before
    assert api_b.get("/api/v1/claims").json()["results"] == []


def test_an_order_marked_protected_through_the_api_may_be_claimed(merchant, parcel, api):
    # given: an order without the protection line
    order, shipment = parcel("ord-9", protected=False)

    # when: the store says the shopper chose protection
    first = api.post(
        "/api/v1/protected-orders",
        {"order_external_id": "ord-9", "chosen_at": "2026-03-01T20:00:00Z"},
        format="json",
    )
    again = api.post("/api/v1/protected-orders", {"order_external_id": "ord-9"}, format="json")

    # then: recorded once, and a claim may be filed
    assert first.status_code == 201
    assert first.json() == {
        "id": first.json()["id"],
        "order_id": order.pk,
        "order_external_id": "ord-9",
        "order_number": "#ord-9",
        "chosen_at": "2026-03-01T20:00:00Z",
        "source": "api",
    }
    assert (again.status_code, again.json()) == (200, first.json())
    assert file(merchant, order, shipment, now=WINDOW_LAST_MOMENT).state == "filed"


def test_protecting_an_unknown_or_another_merchants_order_is_a_404(merchant, parcel, merchant_b):
    parcel("ord-9", protected=False)
    response = client_for(merchant_b).post(
        "/api/v1/protected-orders", {"order_external_id": "ord-9"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert "order_external_id" in response.json()["errors"]
