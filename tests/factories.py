"""factory_boy factories for the core and commerce models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import factory

from orders.ingest.events import order_event_payload, shipment_event_payload
from orders.models import Customer, Order, OrderLine, Product, Shipment
from postpurchase.events.catalogue import event_type_get
from postpurchase.tenancy.models import ApiKey, Membership, Merchant, User
from postpurchase.tenancy.permissions import Role


class TenantFactory(factory.django.DjangoModelFactory):
    """Factories write tenant rows through the explicitly unscoped manager."""

    class Meta:
        abstract = True

    @classmethod
    def _get_manager(cls, model_class):
        return model_class.unscoped


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.django.Password("correct-horse-battery")


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"shop-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    timezone = "Europe/Paris"
    currency = "EUR"
    country = "FR"
    sender_name = factory.LazyAttribute(lambda o: o.name)
    sender_email = factory.LazyAttribute(lambda o: f"hello@{o.slug}.example")
    # marketing email is held while a merchant has no postal address (notifications.marketing_hold)
    postal_address = "1 Market Street\nSpringfield"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    merchant = factory.SubFactory(MerchantFactory)
    role = Role.OWNER


class CustomerFactory(TenantFactory):
    class Meta:
        model = Customer

    merchant = factory.SubFactory(MerchantFactory)
    external_id = factory.Sequence(lambda n: f"cust-{n}")
    email = factory.Sequence(lambda n: f"shopper{n}@example.net")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")


class ProductFactory(TenantFactory):
    class Meta:
        model = Product

    merchant = factory.SubFactory(MerchantFactory)
    external_id = factory.Sequence(lambda n: f"prod-{n}")
    title = factory.Sequence(lambda n: f"Product {n}")
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    price = Decimal("25.00")


class OrderFactory(TenantFactory):
    class Meta:
        model = Order

    merchant = factory.SubFactory(MerchantFactory)
    customer = factory.SubFactory(CustomerFactory, merchant=factory.SelfAttribute("..merchant"))
    external_id = factory.Sequence(lambda n: f"ord-{n}")
    number = factory.Sequence(lambda n: f"#{1000 + n}")
    placed_at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    currency = "EUR"
    subtotal = Decimal("50.00")
    total = Decimal("55.00")
    shipping = Decimal("5.00")


class OrderLineFactory(TenantFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    merchant = factory.SelfAttribute("order.merchant")
    external_id = factory.Sequence(lambda n: f"line-{n}")
    title = "Canvas tote"
    quantity = 1
    unit_price = Decimal("50.00")


def order_payload(**overrides) -> dict:
    """A valid order ingestion payload, as an integrator would send it."""
    payload = {
        "external_id": "ord-1001",
        "number": "#1001",
        "placed_at": "2026-03-01T12:00:00Z",
        "currency": "EUR",
        "subtotal": "80.00",
        "shipping": "5.00",
        "tax": "0.00",
        "discount": "0.00",
        "total": "85.00",
        "customer": {
            "external_id": "cust-1",
            "email": "ada@example.net",
            "first_name": "Ada",
            "last_name": "Lovelace",
        },
        "lines": [
            {
                "external_id": "line-1",
                "quantity": 2,
                "unit_price": "40.00",
                "product": {
                    "external_id": "prod-1",
                    "title": "Trail shoe",
                    "sku": "TS-1",
                    "category": "footwear",
                },
            }
        ],
    }
    payload.update(overrides)
    return payload


def two_line_order_payload(**overrides) -> dict:
    """``order_payload()`` with two lines: l1, a 10.00 sock, and l2, a 20.00 cap."""
    return order_payload(
        **{
            "subtotal": "30",
            "total": "30",
            "shipping": "0",
            "lines": [
                {"external_id": "l1", "title": "Sock", "quantity": 1, "unit_price": "10"},
                {"external_id": "l2", "title": "Cap", "quantity": 1, "unit_price": "20"},
            ],
            **overrides,
        }
    )


# --- Event payloads: what the platform records, key for key ----------------------------------
# The suite runs EVENT_PAYLOAD_VALIDATION=strict (tests/conftest.py): a test that records a
# platform event itself gives it the payload the platform would, built from real rows by the
# same functions ingestion uses, so the event catalogue's models are held in every test.

SHIPMENT_STATUS_OF = {
    "shipment.created": "info_received",
    "shipment.in_transit": "in_transit",
    "shipment.out_for_delivery": "out_for_delivery",
    "shipment.delivered": "delivered",
    "shipment.exception": "exception",
    "shipment.returned_to_sender": "returned_to_sender",
    "shipment.cancelled": "info_received",
}


def order_placed_payload(order: Order, **overrides) -> dict:
    """The ``order.placed`` payload ingestion records for ``order`` (its lines included), with
    ``overrides`` on top (``total="120.00"``, ``categories=["garden"]``)."""
    lines = list(order.lines.select_related("product").order_by("position", "pk"))
    return {**order_event_payload(order, lines), "first_order": True, **overrides}


def shipment_payload(shipment: Shipment, *, type: str = "shipment.delivered", **overrides) -> dict:
    """The payload of ``type`` (a ``shipment.*`` type) for ``shipment``, as the shipment
    services record it, with ``overrides`` on top."""
    payload = shipment_event_payload(shipment, shipment.order)
    if type == "shipment.cancelled":
        payload["order_fulfillment_status"] = shipment.order.fulfillment_status
    elif type not in ("shipment.created", "shipment.delayed"):  # a delay is no status change
        at = shipment.status_changed_at or shipment.order.placed_at
        payload["status_at"] = at.isoformat()
    return {**payload, **overrides}


def shipment_for(order: Order, *, status: str = "in_transit") -> Shipment:
    """A shipment of ``order`` (one per order: the existing one if it has one)."""
    return Shipment.unscoped.get_or_create(
        merchant=order.merchant,
        order=order,
        defaults={
            "external_id": f"ful-{order.external_id}",
            "carrier": "UPS",
            "tracking_number": f"1Z{order.pk:08d}",
            "status": status,
        },
    )[0]


def event_payload(type: str, *, merchant, customer=None, **keys) -> dict:
    """A payload of ``type`` that holds to its model in the event catalogue, for a test that
    records the event itself. An order or shipment type is built from a real order (the one
    ``keys["order_id"]`` names if it exists, else a new one of ``customer``) and shipment;
    ``keys`` then replace what the test cares about (an ``order_id`` standing for an order
    the test never made included). A custom type (no model) is ``keys`` as given."""
    declared = event_type_get(type)
    if declared is None:
        return keys
    namespace = type.split(".", 1)[0]
    if namespace not in ("order", "shipment"):
        return keys  # journey.*, customer.redacted, shop.redacted: the test gives every key
    order = Order.unscoped.filter(merchant=merchant, pk=keys.get("order_id")).first()
    if order is None:
        order = OrderFactory(merchant=merchant, customer=customer)
    if namespace == "shipment":
        shipment = Shipment.unscoped.filter(
            merchant=merchant, pk=keys.get("shipment_id")
        ).first() or shipment_for(order, status=SHIPMENT_STATUS_OF[type])
        return shipment_payload(shipment, type=type, **keys)
    payload = order_placed_payload(order)
    if type in ("order.updated", "order.fulfillment_delayed"):
        del payload["first_order"]
    elif type == "order.cancelled":
        payload["reason"] = order.cancel_reason
    elif type == "order.refunded":
        payload = {
            **{k: payload[k] for k in ("order_id", "external_id", "number", "currency")},
            "refund_id": f"ref-{order.external_id}",
            "amount": payload["total"],
            "lines": [],
        }
    return {**payload, **keys}


TYPED_ORDER = {
    "order_id": 311,
    "external_id": "ord-311",
    "number": "#1311",
    "currency": "EUR",
    "total": "84.99",
    "placed_at": "2026-06-02T15:00:00+00:00",
    "line_count": 1,
    "skus": ["TS-1"],
    "categories": ["footwear"],
    "first_order": True,
}
TYPED_SHIPMENT = {
    "shipment_id": 512,
    "external_id": "ful-311",
    "order_id": 311,
    "order_external_id": "ord-311",
    "order_number": "#1311",
    "carrier": "UPS",
    "tracking_number": "1Z311",
    "tracking_url": "",
    "status": "delivered",
    "estimated_delivery": None,
    "status_at": "2026-06-04T10:00:00+00:00",
}


def typed_payload(type: str, **overrides) -> dict:
    """A complete payload of an order type (but ``order.refunded``) or a shipment status type
    with no rows behind it: what an integrator types into a simulation (held to the
    catalogue's model), or what a test of the event's carriage (webhooks) sends."""
    if type.startswith("shipment.") and type != "shipment.cancelled":
        return {**TYPED_SHIPMENT, "status": SHIPMENT_STATUS_OF[type], **overrides}
    if type in ("order.placed", "order.fulfilled"):
        return {**TYPED_ORDER, **overrides}
    if type == "order.cancelled":
        return {**TYPED_ORDER, "reason": "customer", **overrides}
    raise ValueError(f"no typed example of {type!r}")


__all__ = [
    "ApiKey",
    "CustomerFactory",
    "MembershipFactory",
    "MerchantFactory",
    "OrderFactory",
    "OrderLineFactory",
    "ProductFactory",
    "UserFactory",
    "event_payload",
    "order_payload",
    "order_placed_payload",
    "shipment_for",
    "shipment_payload",
    "typed_payload",
]
