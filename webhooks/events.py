"""The ``webhook`` namespace: ``webhook.test``, which **Send a test event** delivers to one
endpoint (``data`` is ``{"endpoint_id", "message"}``). It is never recorded in the event log,
so it has no catalogue entry of its own; the namespace is kept so that no integrator's custom
event looks like it."""

from __future__ import annotations

from postpurchase.events.catalogue import event_namespace_reserve

OWNER = "webhooks"

WEBHOOK_TEST = "webhook.test"


def events_register() -> None:
    """Reserve the namespace (``WebhooksConfig.ready()``)."""
    event_namespace_reserve(
        name="webhook",
        owner=OWNER,
        description="Deliveries about an endpoint itself: webhook.test, sent by Send a test "
        'event with data {"endpoint_id", "message"}, never recorded in the event log.',
    )
