"""The events journeys record: ``journey.<name>``, from a journey's webhook action, where the
merchant names the event (``journey.vip_reached``). The whole ``journey`` namespace is the
platform's, so an integrator cannot post a look-alike."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from postpurchase.events.catalogue import Payload, event_namespace_reserve, event_type_register

OWNER = "journeys"

JOURNEY_NAMESPACE = "journey"
JOURNEY_ACTION = "journey.*"


class JourneyActionPayload(Payload):
    journey_id: int = Field(description="our id of the journey")
    enrollment_id: int = Field(description="our id of the customer's enrollment in it")
    step_id: str = Field(description="the id of the webhook step in the journey's definition")
    trigger: dict[str, Any] = Field(
        description="the event that entered the customer ({} for a date or inactivity journey)"
    )


def events_register() -> None:
    """Declare the ``journey`` namespace and its family (``JourneysConfig.ready()``)."""
    event_namespace_reserve(
        name=JOURNEY_NAMESPACE, owner=OWNER, description="Events journeys' actions record."
    )
    event_type_register(
        name=JOURNEY_ACTION,
        label="A journey's webhook action",
        payload=JourneyActionPayload,
        owner=OWNER,
        description="A journey reached a webhook step; the merchant names the event "
        "(journey.vip_reached), so integrators' endpoints can act on it.",
    )
