"""The render context made from real rows: the documented variables in the samples' shapes."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from notifications.context import message_context
from notifications.defaults import message_templates_install_defaults
from notifications.rendering import VARIABLES, sample_context
from notifications.services import message_template_render
from orders.models import Product, Shipment
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory


def shape(value):
    """A value's structure: the keys of dicts (recursively), the type of anything else."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "date" if isinstance(value, date) else type(value).__name__


@pytest.fixture
def rows(merchant_a):
    merchant_a.postal_address = "1 Rue de la Paix\n75002 Paris"
    merchant_a.support_email = "help@alpha.example"
    merchant_a.logo_url = "https://cdn.alpha.example/logo.png"
    merchant_a.save()
    customer = CustomerFactory(
        merchant=merchant_a, first_name="Ada", tags=["vip"], locale="fr-FR", total_spent=5
    )
    order = OrderFactory(merchant=merchant_a, customer=customer, number="#42", currency="EUR")
    product = Product.unscoped.create(
        merchant=merchant_a, external_id="p-1", title="Stove", category="camping"
    )
    OrderLineFactory(order=order, title="Stove", product=product, unit_price=Decimal("49.5"))
    shipment = Shipment.unscoped.create(
        merchant=merchant_a,
        order=order,
        external_id="s-1",
        carrier="DHL",
        status="in_transit",
        shipped_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
        estimated_delivery=date(2026, 3, 5),
    )
    return merchant_a, customer, order, shipment


def test_the_context_has_every_documented_variable_in_the_samples_shape(rows):
    merchant, customer, order, shipment = rows
    links = {name: f"https://t.example/{name}" for name in VARIABLES if name.endswith("_url")}

    context = message_context(
        merchant=merchant, customer=customer, order=order, shipment=shipment, links=links
    )

    assert set(context) == set(VARIABLES)
    sample = sample_context()
    for name in VARIABLES:
        found, expected = shape(context[name]), shape(sample[name])
        if name == "shipment":  # not delivered yet: no delivery date (None) in either
            found.pop("delivered_at"), expected.pop("delivered_at")
        assert found == expected, name
    assert context["order"]["lines"] == [
        {
            "title": "Stove",
            "sku": "",
            "quantity": 1,
            "unit_price": "49.50",
            "discount": "0.00",
            "product": {"title": "Stove", "category": "camping", "image_url": "", "url": ""},
        }
    ]
    assert (context["order"]["total"], context["customer"]["total_spent"]) == ("55.00", "5.00")
    assert context["merchant"]["address"] == "1 Rue de la Paix\n75002 Paris"


def test_a_default_template_renders_from_real_rows(rows):
    merchant, customer, order, shipment = rows
    [shipped] = [
        t for t in message_templates_install_defaults(merchant=merchant) if t.key == "shipped"
    ]
    context = message_context(
        merchant=merchant,
        customer=customer,
        order=order,
        shipment=shipment,
        links={"tracking_url": "https://t.example/t/1"},
    )

    rendered = message_template_render(template=shipped, context=context, locale="fr-FR")

    assert rendered.subject == "Your order #42 is on its way"
    assert rendered.text.startswith(
        "Hi Ada,\n\nGood news: order #42 has shipped with DHL and should arrive by Thursday 05 "
        "March.\n\nTrack your parcel: https://t.example/t/1\n"
    )
    assert "1 Rue de la Paix<br>75002 Paris" in rendered.html


def test_only_shopper_links_are_accepted(rows):
    merchant, *_ = rows
    with pytest.raises(ValueError, match="not a shopper link: admin_url"):
        message_context(merchant=merchant, links={"admin_url": "https://x"})
