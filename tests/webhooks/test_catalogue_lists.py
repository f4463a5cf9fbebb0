"""The lists of event types merchants and integrators see come from the event catalogue: the
webhook form, the API's field description, and the journey editor (which no longer imports
webhooks for it)."""

from __future__ import annotations

import html

import pytest
from django.test import Client
from django.urls import reverse

from postpurchase.events.catalogue import event_types_listed
from webhooks import serializers
from webhooks.event_types import known_event_types
from webhooks.forms import EndpointForm

CATALOGUE = [
    ("order.placed", "An order was placed"),
    ("order.updated", "An order changed"),
    ("order.cancelled", "An order was cancelled"),
    ("order.fulfilled", "Every item of an order has shipped"),
    ("shipment.created", "A shipment was created"),
    ("shipment.in_transit", "A shipment is in transit"),
    ("shipment.out_for_delivery", "A shipment is out for delivery"),
    ("shipment.delivered", "A shipment was delivered"),
    ("shipment.exception", "A carrier reported a problem with a shipment"),
    ("shipment.returned_to_sender", "A shipment is going back to the store"),
    ("shipment.failed_attempt", "A carrier tried to deliver a shipment and could not"),
    ("shipment.available_for_pickup", "A shipment is waiting to be collected"),
    ("shipment.expired", "A shipment has not been scanned for a long time"),
    ("shipment.delayed", "A shipment is late"),
    ("order.fulfillment_delayed", "An order was not fulfilled within the promise"),
    ("shipment.cancelled", "A shipment was cancelled by the store (its fulfillment voided)"),
    ("order.refunded", "A refund was issued on an order"),
    ("customer.redacted", "A customer's personal data was erased (a privacy request)"),
    ("shop.redacted", "A shop's data was erased (Shopify's shop/redact)"),
    ("claim.filed", "A shopper filed a claim"),
    ("claim.approved", "A claim was approved"),
    ("claim.rejected", "A claim was rejected"),
    ("claim.resolved", "A claim was resolved"),
]


def test_the_subscribable_types_are_the_catalogue_s():
    assert known_event_types() == CATALOGUE
    assert [(t.name, t.label) for t in event_types_listed()] == CATALOGUE


def test_the_form_offers_every_catalogue_type():
    form = EndpointForm()

    assert list(form.fields["event_types"].choices) == [
        (name, f"{name} — {label}") for name, label in CATALOGUE
    ]


def test_the_api_describes_every_catalogue_type():
    expected = (
        'Event types to receive, or ["*"] for every event. Built-in types: '
        + ", ".join(name for name, _ in CATALOGUE)
        + "; custom events posted through the API are matched by their own names."
    )

    assert expected == serializers.EVENT_TYPES_HELP


@pytest.mark.django_db
def test_the_journey_editor_suggests_every_catalogue_type(owner_a):
    # given
    client = Client()
    client.force_login(owner_a)

    # when
    page = client.get(reverse("dashboard:journey_create")).content.decode()

    # then
    datalist = page.split('<datalist id="journey-events">', 1)[1].split("</datalist>", 1)[0]
    assert html.unescape(datalist) == "".join(
        f'<option value="{name}">{label}</option>' for name, label in CATALOGUE
    )
