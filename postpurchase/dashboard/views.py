"""Dashboard pages: home, live counts, the merchant switcher, orders, and "coming soon"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from orders.models import Order
from orders.selectors import customer_timeline, dashboard_counts, order_detail, order_list
from postpurchase.dashboard.formatting import event_label, status_tone
from postpurchase.dashboard.forms import ORDER_STATUS_FILTERS, OrderFilterForm
from postpurchase.dashboard.mixins import (
    DashboardMixin,
    ScopedDetailView,
    ScopedListView,
    merchant_zone,
)
from postpurchase.dashboard.navigation import NavItem
from postpurchase.events.models import Event
from postpurchase.tenancy.middleware import SESSION_KEY
from postpurchase.tenancy.permissions import Perm
from postpurchase.tenancy.selectors import membership_get

LATEST_ORDERS = 10
ORDERS_PER_PAGE = 50
TIMELINE_LENGTH = 50


def merchant_today(merchant):
    return timezone.localdate(timezone=merchant_zone(merchant))


class HomeView(DashboardMixin, TemplateView):
    required_perm = Perm.VIEW
    template_name = "dashboard/home.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            counts=dashboard_counts(today=merchant_today(self.merchant)),
            latest_orders=order_list()[:LATEST_ORDERS],
            **kwargs,
        )


class ComingSoonView(DashboardMixin, TemplateView):
    """An area of the navigation that is not built yet: what it will do, in the shell."""

    required_perm = Perm.VIEW
    template_name = "dashboard/coming_soon.html"
    item: NavItem | None = None

    def get_context_data(self, **kwargs):
        return super().get_context_data(item=self.item, **kwargs)


@method_decorator(never_cache, name="dispatch")
class CountsView(DashboardMixin, View):
    """The home page's figures as JSON, polled by ``dashboard.js`` to keep them live."""

    required_perm = Perm.VIEW

    def get(self, request):
        return JsonResponse(dashboard_counts(today=merchant_today(self.merchant)))


class MerchantSwitchView(LoginRequiredMixin, View):
    """Make another of the user's merchants the current one. A merchant the user is not a member
    of does not exist as far as they are concerned (404), and the session stays as it was."""

    http_method_names = ["post"]

    def post(self, request):
        try:
            merchant_id = int(request.POST.get("merchant", ""))
        except ValueError:
            raise Http404("No such merchant.") from None
        membership = membership_get(user=request.user, merchant_id=merchant_id)
        if membership is None:
            raise Http404("No such merchant.")
        request.session[SESSION_KEY] = membership.merchant_id
        return redirect("dashboard:home")


class OrderListView(ScopedListView):
    required_perm = Perm.VIEW
    model = Order
    paginate_by = ORDERS_PER_PAGE
    template_name = "dashboard/orders/list.html"
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
    template_name = "dashboard/orders/detail.html"
    context_object_name = "order"

    def get_object(self, queryset=None):
        order = super().get_object(queryset)  # 404 for anything outside the merchant
        return order_detail(order_id=order.pk)

    def get_context_data(self, **kwargs):
        order = self.object
        events = customer_timeline(customer=order.customer, limit=TIMELINE_LENGTH)
        return super().get_context_data(timeline=timeline_entries(events, order=order), **kwargs)


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
