"""A simulation says why a message would fail to render: the part, the line and the variable."""

from __future__ import annotations

from datetime import UTC, datetime

from journeys.services import journey_publish, journey_save
from journeys.simulation import journey_simulate
from notifications.services import message_template_save
from tests.factories import CustomerFactory, MerchantFactory

T0 = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)


def test_a_simulated_render_failure_names_the_variable_and_line(db):
    # given a journey whose email needs a parcel, entered on an event with none
    merchant = MerchantFactory(timezone="UTC")
    message_template_save(
        merchant=merchant,
        payload={
            "key": "shipped",
            "name": "Shipped",
            "channel": "email",
            "category": "transactional",
            "variants": [
                {
                    "locale": "en",
                    "subject": "On its way",
                    "html_body": "<p>Hi</p>\n<p>Carrier: {{ shipment.carrier }}</p>",
                }
            ],
        },
    )
    journey = journey_save(
        merchant=merchant,
        key="note",
        name="Note",
        definition={
            "trigger": {"event": "customer.tagged"},
            "start": "tell",
            "steps": [{"id": "tell", "type": "send", "template": "shipped"}],
        },
    )
    journey_publish(journey=journey, now=T0)
    customer = CustomerFactory(merchant=merchant, timezone="UTC")

    # when
    result = journey_simulate(
        journey=journey,
        customer=customer,
        events=[{"type": "customer.tagged", "at": T0.isoformat(), "payload": {}}],
    )

    # then
    [message] = [row["message"] for row in result["timeline"] if row["message"]]
    assert (message["status"], message["reason"], message["detail"]) == (
        "failed",
        "render",
        "html_body: line 2: unknown variable 'shipment': this message has no value for it",
    )
