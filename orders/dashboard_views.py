"""The orders pages of the dashboard (the list and an order with its customer's timeline), and
the home page's orders card. Included by the dashboard at ``orders/``, in its namespace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from orders.forms import ORDER_STATUS_FILTERS, OrderFilterForm
from orders.models import Order
from orders.schemas import shipping_address_lines
from orders.selectors import customer_timeline, dashboard_counts, order_detail, order_list
from postpurchase.dashboard.cards import Figure, HomeCard
from postpurchase.dashboard.formatting import event_label, status_tone
from postpurchase.dashboard.mixins import ScopedDetailView, ScopedListView
from postpurchase.events.models import Event
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.permissions import Perm, role_has_perm

LATEST_ORDERS = 10
ORDERS_PER_PAGE = 50
TIMELINE_LENGTH = 50


class OrderListView(ScopedListView):
    required_perm = Perm.VIEW
    model = Order
    paginate_by = ORDERS_PER_PAGE
    template_name = "orders/list.html"
    context_object_name = "orders"

    def filters(self) -> dict[str, str]:
        form = OrderFilterForm(self.request.GET)
        if not form.is_valid():
            return {"status": "", "query": ""}
        return {"status": form.cleaned_data["status"], "query": form.cleaned_data["q"]}

    def filter_scoped(self, queryset):
        return order_list(orders=queryset, **self.filters())

    def get_context_data(self, **kwargs):
        filters = self.filters()
        return super().get_context_data(
            status_filters=ORDER_STATUS_FILTERS,
            current_status=filters["status"],
            query=filters["query"],
            **kwargs,
        )


class OrderDetailView(ScopedDetailView):
    required_perm = Perm.VIEW
    model = Order
    template_name = "orders/detail.html"
    context_object_name = "order"

    def get_object(self, queryset=None):
        order = super().get_object(queryset)  # 404 for anything outside the merchant
        return order_detail(order_id=order.pk)

    def get_context_data(self, **kwargs):
        order = self.object
        events = customer_timeline(customer=order.customer, limit=TIMELINE_LENGTH)
        return super().get_context_data(
            timeline=timeline_entries(events, order=order),
            address_lines=shipping_address_lines(order.shipping_address),
            # the customer card's export and erase actions (orders/privacy_views.py)
            can_manage_privacy=role_has_perm(self.membership.role, Perm.MANAGE_SETTINGS),
            **kwargs,
        )


@dataclass(frozen=True)
class TimelineEntry:
    label: str
    occurred_at: datetime
    tone: str = "neutral"  # the badge colour of what happened, e.g. "danger" for an exception
    order_number: str = ""
    order_id: int | None = None  # set when the event is about another order, to link to it
    tracking: str = ""


def timeline_entries(events: list[Event], *, order: Order) -> list[TimelineEntry]:
    """What the timeline shows of each event. Payloads come from integrators too, so every value
    read from one is checked before it is used in a link."""
    entries = []
    for event in events:
        payload = event.payload if isinstance(event.payload, dict) else {}
        number = payload.get("number") or payload.get("order_number") or ""
        order_id = payload.get("order_id")
        linked = order_id if isinstance(order_id, int) and order_id != order.pk else None
        tracking = " ".join(
            str(payload[key]) for key in ("carrier", "tracking_number") if payload.get(key)
        )
        entries.append(
            TimelineEntry(
                label=event_label(event.type),
                occurred_at=event.occurred_at,
                tone=status_tone(event.type.rpartition(".")[2]),
                order_number=str(number),
                order_id=linked if number else None,
                tracking=tracking,
            )
        )
    return entries


def home_counts(*, today: date) -> dict[str, int]:
    return dashboard_counts()


def home_latest_orders(*, merchant: Merchant, today: date) -> dict[str, Any]:
    return {"latest_orders": order_list()[:LATEST_ORDERS]}


# The first card of the home page: the store's figures, live, and its latest orders. Delayed
# shipments follow in the tracking card (tracking/home.py), from the delay scan's incidents.
ORDERS_CARD = HomeCard(
    name="orders",
    position=10,
    figures=(
        Figure("customers", "Customers"),
        Figure("orders", "Orders"),
        Figure("shipments_in_transit", "Shipments in transit"),
    ),
    counts=home_counts,
    template="orders/_home_card.html",
    context=home_latest_orders,
)
