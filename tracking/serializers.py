"""What the tracking pillar adds to a shipment in the integrator API (``orders.shipment_extras``):
its open delay, ``null`` when it has none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rest_framework import serializers

from orders.models import Shipment
from orders.shipment_extras import ShipmentExtra
from postpurchase.tenancy.models import Merchant
from tracking.models import DelayReason
from tracking.selectors import delay_states

# A shipment's reasons: ``fulfillment_late`` is an order's (before it has a shipment).
SHIPMENT_DELAY_REASONS = tuple(
    (value, label) for value, label in DelayReason.choices if value != DelayReason.FULFILLMENT_LATE
)


class ShipmentDelaySerializer(serializers.Serializer):
    reason = serializers.ChoiceField(
        choices=SHIPMENT_DELAY_REASONS, help_text="Why it is late (docs/tracking.md, Rules)."
    )
    since = serializers.DateTimeField(help_text="When the incident began (the last scan, …).")
    delayed_at = serializers.DateTimeField(help_text="When it crossed its threshold.")


def shipments_delay(
    *, merchant: Merchant, shipments: Sequence[Shipment]
) -> Mapping[int, Mapping[str, Any]]:
    """The open delay of each shipment that has one (one query for all of them)."""
    states = delay_states(merchant=merchant, shipment_ids=[shipment.pk for shipment in shipments])
    return {shipment_id: {"delay": state} for shipment_id, state in states.items()}


DELAY_EXTRA = ShipmentExtra(
    name="tracking",
    fields={
        "delay": ShipmentDelaySerializer(
            allow_null=True,
            read_only=True,
            help_text=(
                "The shipment's open delay incident (the one that became a delay first), or null: "
                "found by the hourly delay scan, cleared once the parcel moves on or arrives, its "
                "order is cancelled or it is re-estimated."
            ),
        )
    },
    fill=shipments_delay,
)
