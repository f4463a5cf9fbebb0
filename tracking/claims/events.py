"""The claim events, with their payloads: what ``tracking.claims.services`` records, in the
transaction of each step, for journeys (tell the shopper) and outbound webhooks. The tracking
app owns the ``claim`` namespace."""

from __future__ import annotations

from pydantic import Field

from postpurchase.events.catalogue import Payload, event_namespace_reserve, event_type_register

OWNER = "tracking"

CLAIM_FILED = "claim.filed"
CLAIM_APPROVED = "claim.approved"
CLAIM_REJECTED = "claim.rejected"
CLAIM_RESOLVED = "claim.resolved"


class ClaimPayload(Payload):
    """A claim as each of its events describes it (``claim_event_payload``)."""

    claim_id: int = Field(description="our id of the claim")
    number: str = Field(description="the merchant's claim number the shopper sees, such as 'C-12'")
    kind: str = Field(description="lost, damaged or stolen")
    state: str = Field(description="filed, approved, rejected or resolved")
    order_id: int = Field(description="our id of the order")
    order_number: str = Field(description="the order number")
    shipment_id: int = Field(description="our id of the claimed shipment")
    tracking_number: str = Field(description="the shipment's tracking number, possibly empty")
    claim_url: str = Field(description="the shopper's page of the claim (a signed link)")


class ClaimDecidedPayload(ClaimPayload):
    message: str = Field(description="the merchant's words to the shopper, possibly empty")


class ClaimResolvedPayload(ClaimPayload):
    resolution: str = Field(description="reship (a replacement order) or refund")
    replacement_order_id: int | None = Field(
        description="our id of the replacement order, for a reship; null for a refund"
    )
    refund_amount: str | None = Field(
        description="for a refund, the amount recorded (a decimal in the order's currency); "
        "the merchant refunds it in its store. Null for a reship"
    )
    currency: str = Field(description="ISO 4217 code of the order")


TYPES = (
    (CLAIM_FILED, "A shopper filed a claim", ClaimPayload, "A shopper filed a protection claim."),
    (
        CLAIM_APPROVED,
        "A claim was approved",
        ClaimDecidedPayload,
        "The merchant approved a claim (its resolution follows).",
    ),
    (
        CLAIM_REJECTED,
        "A claim was rejected",
        ClaimDecidedPayload,
        "The merchant rejected a claim, with a message to the shopper.",
    ),
    (
        CLAIM_RESOLVED,
        "A claim was resolved",
        ClaimResolvedPayload,
        "The merchant resolved an approved claim: a replacement order at no charge (reship) or "
        "a refund it makes in its store (refund).",
    ),
)


def events_register() -> None:
    """Declare the types above (``TrackingConfig.ready()``)."""
    event_namespace_reserve(
        name="claim", owner=OWNER, description="Package protection claims (docs/protection.md)."
    )
    for name, label, payload, description in TYPES:
        event_type_register(
            name=name, label=label, payload=payload, owner=OWNER, description=description
        )
