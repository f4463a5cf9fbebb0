"""factory_boy factories for the core and commerce models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import factory

from orders.models import Customer, Order, OrderLine, Product
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


__all__ = [
    "ApiKey",
    "CustomerFactory",
    "MembershipFactory",
    "MerchantFactory",
    "OrderFactory",
    "OrderLineFactory",
    "ProductFactory",
    "UserFactory",
    "order_payload",
]
