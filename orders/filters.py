"""List filters of the integrator API (django-filter validates them and the OpenAPI schema
documents them)."""

from __future__ import annotations

import django_filters as filters

from orders.models import (
    Customer,
    FinancialStatus,
    FulfillmentStatus,
    Order,
    Product,
    Shipment,
    ShipmentStatus,
)
from postpurchase.api.filters import ApiFilterSet, DateTimeFilter, IdFilter


class _Filters(ApiFilterSet):
    updated_since = DateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Only rows changed at or after this time (ISO 8601 with an offset).",
    )
    external_id = filters.CharFilter(help_text="The merchant's own id.")


class CustomerFilter(_Filters):
    email = filters.CharFilter(method="filter_email", help_text="Exact email, any case.")

    class Meta:
        model = Customer
        fields: list[str] = []

    def filter_email(self, queryset, name, value):
        return queryset.filter(email=value.strip().lower())


class ProductFilter(_Filters):
    sku = filters.CharFilter()
    category = filters.CharFilter()

    class Meta:
        model = Product
        fields: list[str] = []


ORDER_STATUSES = ("open", "cancelled")


class OrderFilter(_Filters):
    status = filters.ChoiceFilter(
        choices=[(s, s) for s in ORDER_STATUSES],
        method="filter_status",
        help_text="open: not cancelled; cancelled: cancelled.",
    )
    financial_status = filters.ChoiceFilter(choices=FinancialStatus.choices)
    fulfillment_status = filters.ChoiceFilter(choices=FulfillmentStatus.choices)
    customer = IdFilter(field_name="customer_id", help_text="Our customer id.")
    customer_external_id = filters.CharFilter(field_name="customer__external_id")
    placed_after = DateTimeFilter(field_name="placed_at", lookup_expr="gte")
    placed_before = DateTimeFilter(field_name="placed_at", lookup_expr="lt")
    number = filters.CharFilter()

    class Meta:
        model = Order
        fields: list[str] = []

    def filter_status(self, queryset, name, value):
        return queryset.filter(cancelled_at__isnull=value == "open")


class ShipmentFilter(_Filters):
    status = filters.ChoiceFilter(choices=ShipmentStatus.choices)
    order = IdFilter(field_name="order_id", help_text="Our order id.")
    order_external_id = filters.CharFilter(field_name="order__external_id")
    customer = IdFilter(field_name="order__customer_id", help_text="Our customer id.")
    tracking_number = filters.CharFilter()
    carrier = filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Shipment
        fields: list[str] = []
