"""How the integrator API shows the commerce model. Output only: input is validated by the
pydantic payloads in ``orders.schemas``, the same ones every other ingestion path uses."""

from __future__ import annotations

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from orders.models import Customer, Order, OrderLine, Product, Shipment, TrackingEvent
from orders.schemas import shipping_address_out
from orders.shipment_extras import shipment_extras
from postpurchase.api.serializers import CachedModelSerializer
from postpurchase.tenancy.scoping import current_merchant
from postpurchase.validation import money_str


@extend_schema_field(
    {"type": ["string", "null"], "pattern": r"^\d+(\.\d+)?$", "examples": ["129.90"]}
)
class MoneyField(serializers.Field):
    """An amount as a string with exactly its currency's minor digits ("129.90", "1500" JPY).
    ``currency`` names how to find the currency from the object."""

    def __init__(self, attr: str, currency, **kwargs) -> None:
        kwargs.update(source="*", read_only=True)
        super().__init__(**kwargs)
        self.attr = attr
        self.currency = currency

    def to_representation(self, obj):
        value = getattr(obj, self.attr)
        return None if value is None else money_str(value, self.currency(obj))


def _merchant_currency(obj) -> str:
    return current_merchant().currency


class CustomerSerializer(CachedModelSerializer):
    email = serializers.CharField(help_text="Lowercase; empty when unknown.")
    accepts_email_marketing = serializers.BooleanField(source="email_marketing_consent")
    accepts_sms_marketing = serializers.BooleanField(source="sms_marketing_consent")
    total_spent = MoneyField("total_spent", _merchant_currency, help_text="In the store currency.")

    class Meta:
        model = Customer
        fields = [
            "id",
            "external_id",
            "email",
            "phone",
            "first_name",
            "last_name",
            "timezone",
            "locale",
            "birthday",
            "tags",
            "accepts_email_marketing",
            "email_consent_updated_at",
            "email_consent_source",
            "accepts_sms_marketing",
            "sms_consent_updated_at",
            "sms_consent_source",
            "orders_count",
            "total_spent",
            "first_order_at",
            "last_order_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ProductSerializer(CachedModelSerializer):
    image_url = serializers.CharField(help_text="An http(s) URL, or empty.")
    url = serializers.CharField(help_text="An http(s) URL, or empty.")
    price = MoneyField("price", _merchant_currency)

    class Meta:
        model = Product
        fields = [
            "id",
            "external_id",
            "sku",
            "title",
            "category",
            "price",
            "image_url",
            "url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


def _order_currency(obj) -> str:
    return obj.currency


def _line_currency(line: OrderLine) -> str:
    return line.order.currency  # the order is cached by the prefetch that loaded the line


class OrderLineSerializer(CachedModelSerializer):
    product_external_id = serializers.SerializerMethodField()
    unit_price = MoneyField("unit_price", _line_currency)
    discount = MoneyField("discount", _line_currency)
    total = MoneyField("total", _line_currency, help_text="unit_price × quantity − discount")

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "external_id",
            "product_id",
            "product_external_id",
            "title",
            "sku",
            "quantity",
            "unit_price",
            "discount",
            "total",
        ]
        read_only_fields = fields

    def get_product_external_id(self, line: OrderLine) -> str | None:
        return line.product.external_id if line.product_id else None


class TrackingEventSerializer(CachedModelSerializer):
    class Meta:
        model = TrackingEvent
        fields = [
            "id",
            "status",
            "substatus",
            "raw_status",
            "description",
            "location",
            "occurred_at",
            "raw",
            "created_at",
        ]
        read_only_fields = fields


class ShipmentLineSerializer(serializers.Serializer):
    order_line_id = serializers.IntegerField()
    line_external_id = serializers.CharField(source="order_line.external_id")
    quantity = serializers.IntegerField()


ESTIMATE_BASES = ("carrier", "history", "default")  # orders/estimates.py


class ShipmentEstimateSerializer(serializers.Serializer):
    """The delivery range the shopper is shown (``orders/estimates.py``)."""

    earliest = serializers.DateField()
    latest = serializers.DateField(help_text="The same day as earliest when confident.")
    basis = serializers.ChoiceField(
        choices=ESTIMATE_BASES,
        help_text=(
            "carrier: the carrier's date; history: this merchant's own transit times; "
            "default: the carrier's usual range."
        ),
    )


class ShipmentListSerializer(serializers.ListSerializer):
    """Many shipments: the other apps' fields (``orders.shipment_extras``) are filled for all of
    them at once."""

    def to_representation(self, data):
        shipments = list(data.all() if isinstance(data, models.manager.BaseManager) else data)
        shipment_extras.attach(merchant=current_merchant(), shipments=shipments)
        return super().to_representation(shipments)


class ShipmentSerializer(CachedModelSerializer):
    tracking_url = serializers.CharField(help_text="An http(s) URL, or empty.")
    order_external_id = serializers.CharField(source="order.external_id")
    estimate = serializers.SerializerMethodField(
        help_text="The delivery range shown to the shopper; null before one is worked out."
    )
    lines = ShipmentLineSerializer(many=True)

    class Meta:
        model = Shipment
        list_serializer_class = ShipmentListSerializer
        fields = [
            "id",
            "external_id",
            "order_id",
            "order_external_id",
            "carrier",
            "service",
            "tracking_number",
            "tracking_url",
            "status",
            "substatus",
            "status_changed_at",
            "estimated_delivery",
            "estimate",
            # the same range, flat, as the API showed it first: kept for clients written then
            "estimate_earliest",
            "estimate_latest",
            "estimate_basis",
            "shipped_at",
            "delivered_at",
            "lines",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_fields(self):
        """Its own fields, then those other apps add (``orders.shipment_extras``)."""
        fields = super().get_fields()
        for name, field in shipment_extras.fields().items():
            if name in fields:
                raise ValueError(f"The shipment field {name!r} is the serializer's own.")
            fields[name] = field
        return fields

    @extend_schema_field(ShipmentEstimateSerializer(allow_null=True))
    def get_estimate(self, shipment: Shipment) -> dict | None:
        if None in (shipment.estimate_earliest, shipment.estimate_latest) or not (
            shipment.estimate_basis
        ):
            return None
        return {
            "earliest": shipment.estimate_earliest.isoformat(),
            "latest": shipment.estimate_latest.isoformat(),
            "basis": shipment.estimate_basis,
        }

    def to_representation(self, shipment: Shipment) -> dict:
        shipment_extras.attach(merchant=current_merchant(), shipments=[shipment])
        return super().to_representation(shipment)


class ShippingAddressSerializer(serializers.Serializer):
    """``Order.shipping_address`` as stored (``orders.schemas.ShippingAddressIn``'s keys)."""

    name = serializers.CharField()
    company = serializers.CharField()
    address1 = serializers.CharField()
    address2 = serializers.CharField()
    city = serializers.CharField()
    province_code = serializers.CharField(help_text="A region code: ON, CA, NSW.")
    postal_code = serializers.CharField()
    country_code = serializers.CharField(help_text="ISO 3166-1 alpha-2, upper case.")
    phone = serializers.CharField()


def _shipping_address(order: Order) -> dict | None:
    """The stored address, or ``None`` when the store sent none."""
    return shipping_address_out(order.shipping_address)


class OrderSerializer(CachedModelSerializer):
    customer_id = serializers.IntegerField(allow_null=True)
    customer_external_id = serializers.SerializerMethodField()
    shipping_address = serializers.SerializerMethodField()
    subtotal = MoneyField("subtotal", _order_currency)
    discount = MoneyField("discount", _order_currency)
    shipping = MoneyField("shipping", _order_currency)
    tax = MoneyField("tax", _order_currency)
    total = MoneyField("total", _order_currency)
    lines = OrderLineSerializer(many=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "external_id",
            "number",
            "customer_id",
            "customer_external_id",
            "placed_at",
            "currency",
            "subtotal",
            "discount",
            "shipping",
            "tax",
            "total",
            "financial_status",
            "fulfillment_status",
            "cancelled_at",
            "cancel_reason",
            "source",
            "source_updated_at",
            "shipping_address",
            "lines",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_customer_external_id(self, order: Order) -> str | None:
        return order.customer.external_id if order.customer_id else None

    @extend_schema_field(ShippingAddressSerializer(allow_null=True))
    def get_shipping_address(self, order: Order) -> dict | None:
        return _shipping_address(order)

    def to_representation(self, order: Order) -> dict:
        """The declared fields, built directly: an order is the API's most frequent answer, and
        DRF's field-by-field walk costs more than the rest of a small response. Equal to the
        generic rendering (tested); a subclass adding fields takes the generic path."""
        if type(self) is not OrderSerializer:
            return super().to_representation(order)
        currency = order.currency

        def money(value) -> str:
            return money_str(value, currency)

        return {
            "id": order.pk,
            "external_id": order.external_id,
            "number": order.number,
            "customer_id": order.customer_id,
            "customer_external_id": self.get_customer_external_id(order),
            "placed_at": _moment(order.placed_at),
            "currency": currency,
            **{name: money(getattr(order, name)) for name in MONEY_FIELDS},
            "financial_status": order.financial_status,
            "fulfillment_status": order.fulfillment_status,
            "cancelled_at": _moment(order.cancelled_at),
            "cancel_reason": order.cancel_reason,
            "source": order.source,
            "source_updated_at": _moment(order.source_updated_at),
            "shipping_address": _shipping_address(order),
            "lines": [
                {
                    "id": line.pk,
                    "external_id": line.external_id,
                    "product_id": line.product_id,
                    "product_external_id": line.product.external_id if line.product_id else None,
                    "title": line.title,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "unit_price": money(line.unit_price),
                    "discount": money(line.discount),
                    "total": money(line.total),
                }
                for line in order.lines.all()
            ],
            "created_at": _moment(order.created_at),
            "updated_at": _moment(order.updated_at),
        }


_DATETIME = serializers.DateTimeField()
MONEY_FIELDS = ("subtotal", "discount", "shipping", "tax", "total")


def _moment(value) -> str | None:
    """A time as DRF renders it (ISO 8601 in the current time zone, ``Z`` for UTC)."""
    return None if value is None else _DATETIME.to_representation(value)


class OrdersWithShipmentsListSerializer(serializers.ListSerializer):
    """A page of orders with their shipments: the other apps' shipment fields are filled for
    every shipment of the page at once (from the prefetched shipments)."""

    def to_representation(self, data):
        orders = list(data.all() if isinstance(data, models.manager.BaseManager) else data)
        shipments = [shipment for order in orders for shipment in order.shipments.all()]
        shipment_extras.attach(merchant=current_merchant(), shipments=shipments)
        return super().to_representation(orders)


class OrderWithShipmentsSerializer(OrderSerializer):
    """An order with ``?expand=shipments``."""

    shipments = ShipmentSerializer(many=True)

    class Meta(OrderSerializer.Meta):
        list_serializer_class = OrdersWithShipmentsListSerializer
        fields = [*OrderSerializer.Meta.fields, "shipments"]
        read_only_fields = fields
