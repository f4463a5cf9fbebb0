"""What the journeys app plugs into its own sockets, the way a pillar plugs in its own
(``JourneysConfig.ready`` calls ``builtins_register``):

- facts: ``customer.*`` and ``order.*`` (``journeys/facts.py``), each computed for many subjects
  at once (an order's lines for a whole batch in one query);
- actions: ``add_tag``, ``remove_tag`` and ``webhook`` (``journeys/actions.py``);
- the link ``tracking_url`` (``journeys/links.py``): the carrier's page of the trigger's parcel,
  or of the order's latest parcel with one. The tracking app registers its branded page's maker
  in its place (``tracking/apps.py``); this one serves a house without that app.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from journeys.actions import ActionContext, ActionResult, actions
from journeys.facts import Fact, Subject, facts
from journeys.links import links
from journeys.schema import EventType
from orders.models import Customer, Order, OrderLine, Shipment
from postpurchase.events.services import event_record

# --- facts -----------------------------------------------------------------------------------

CUSTOMER_FACTS = {
    "id": Fact("number", "Our id of the customer."),
    "email": Fact("text"),
    "phone": Fact("text"),
    "first_name": Fact("text"),
    "locale": Fact("text"),
    "timezone": Fact("text"),
    "tags": Fact("list", "The customer's tags."),
    "orders_count": Fact("number", "Orders placed, this one included."),
    "total_spent": Fact("number", "Spent in all, in the store's currency."),
    "email_marketing_consent": Fact("boolean"),
    "sms_marketing_consent": Fact("boolean"),
    "birthday": Fact("date"),
}
ORDER_FACTS = {
    "id": Fact("number", "Our id of the order."),
    "number": Fact("text", "The store's order number."),
    "currency": Fact("text"),
    "total": Fact("number"),
    "placed_at": Fact("date"),
    "line_count": Fact("number"),
    "skus": Fact("list"),
    "categories": Fact("list", "The categories of the products ordered."),
    "financial_status": Fact("text"),
    "fulfillment_status": Fact("text"),
}


def customer_facts(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.pk,
        "email": customer.email,
        "phone": customer.phone,
        "first_name": customer.first_name,
        "locale": customer.locale,
        "timezone": customer.timezone,
        "tags": list(customer.tags or []),
        "orders_count": customer.orders_count,
        "total_spent": str(customer.total_spent),
        "email_marketing_consent": customer.email_marketing_consent,
        "sms_marketing_consent": customer.sms_marketing_consent,
        "birthday": customer.birthday.isoformat() if customer.birthday else None,
    }


def order_facts(order: Order, lines: list[OrderLine]) -> dict[str, Any]:
    return {
        "id": order.pk,
        "number": order.number,
        "currency": order.currency,
        "total": str(order.total),
        "placed_at": order.placed_at.isoformat() if order.placed_at else None,
        "line_count": len(lines),
        "skus": sorted({line.sku for line in lines if line.sku}),
        "categories": sorted(
            {line.product.category for line in lines if line.product and line.product.category}
        ),
        "financial_status": str(order.financial_status),
        "fulfillment_status": str(order.fulfillment_status),
    }


def customers_facts(*, merchant, subjects: list[Subject]) -> list[dict[str, Any]]:
    """The customers' own columns: the instances the caller loaded (and locked) are read."""
    return [customer_facts(subject.customer) for subject in subjects]


def orders_facts(*, merchant, subjects: list[Subject]) -> list[dict[str, Any]]:
    """The orders' columns and their lines', every order's lines in one query."""
    lines: dict[int, list[OrderLine]] = defaultdict(list)
    rows = OrderLine.unscoped.filter(
        merchant=merchant, order_id__in={subject.order.pk for subject in subjects}
    ).select_related("product")
    for line in rows:
        lines[line.order_id].append(line)
    return [order_facts(subject.order, lines[subject.order.pk]) for subject in subjects]


# --- actions ---------------------------------------------------------------------------------


class TagParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tag: Annotated[str, Field(min_length=1, max_length=100)]


class WebhookParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event: EventType

    @field_validator("event")
    @classmethod
    def _journey_event(cls, value: str) -> str:
        if not value.startswith("journey."):
            raise ValueError("a webhook action needs an event named journey.<something>")
        return value


def tag_add(params: TagParams, context: ActionContext) -> ActionResult:
    tags = list(context.customer.tags or [])
    if params.tag in tags:
        return ActionResult("add_tag", params.tag)
    context.customer.tags = [*tags, params.tag]
    return ActionResult("add_tag", params.tag, customer_fields=("tags",))


def tag_remove(params: TagParams, context: ActionContext) -> ActionResult:
    tags = list(context.customer.tags or [])
    if params.tag not in tags:
        return ActionResult("remove_tag", params.tag)
    context.customer.tags = [tag for tag in tags if tag != params.tag]
    return ActionResult("remove_tag", params.tag, customer_fields=("tags",))


def webhook_send(params: WebhookParams, context: ActionContext) -> ActionResult:
    """The event, recorded once per step taken (keyed by the step's key): the outbound
    webhooks subscribed to it deliver it."""
    enrollment = context.enrollment
    event, created = event_record(
        merchant=context.merchant,
        type=params.event,
        customer=context.customer,
        payload={
            "journey_id": enrollment.journey_id,
            "enrollment_id": enrollment.pk,
            "step_id": context.step_id,
            "trigger": context.trigger,
        },
        dedupe_key=context.key,
        source="journey",
        now=context.now,
    )
    detail = f"{params.event} #{event.pk}" + ("" if created else " (recorded before)")
    return ActionResult("webhook", detail)


# --- links -----------------------------------------------------------------------------------


def carrier_tracking_url(*, merchant, customer, order, shipment, memo=None, **about) -> str | None:
    """The carrier's page of the trigger's parcel, or of the order's latest parcel with one
    (read once per order in a run); None when there is none (the default templates then leave
    their tracking button out)."""
    tracked = shipment
    if tracked is None and hasattr(order, "tracked_shipments"):  # orders_for_messages loaded it
        tracked = order.tracked_shipments[0] if order.tracked_shipments else None
    elif tracked is None and order is not None:

        def latest():
            return (
                Shipment.unscoped.filter(merchant=merchant, order=order)
                .exclude(tracking_url="")
                .order_by("-created_at", "-id")
                .first()
            )

        tracked = memo(("tracked", order.pk), latest) if memo else latest()
    return tracked.tracking_url if tracked is not None and tracked.tracking_url else None


def builtins_register() -> None:
    facts.register("customer", facts=CUSTOMER_FACTS, compute=customers_facts)
    facts.register("order", facts=ORDER_FACTS, compute=orders_facts, about="order")
    actions.register(
        "add_tag",
        TagParams,
        tag_add,
        label="Add a tag",
        describe=lambda s: f"Add tag {s.get('tag')}",
    )
    actions.register(
        "remove_tag",
        TagParams,
        tag_remove,
        label="Remove a tag",
        describe=lambda s: f"Remove tag {s.get('tag')}",
    )
    actions.register(
        "webhook",
        WebhookParams,
        webhook_send,
        label="Send an event to your webhook endpoints",
        describe=lambda s: f"Send {s.get('event')} to your webhooks",
    )
    links.register("tracking_url", carrier_tracking_url)
