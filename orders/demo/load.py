"""Loading the demo's payloads through the ingestion services, and its merchant and owner."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from orders.demo.data import (
    DEMO_SLUG,
    MERCHANT_ATTRIBUTES,
    OWNER_EMAIL,
    OWNER_NAME,
    OWNER_PASSWORD,
    STORE_TZ,
)
from orders.demo.plan import DemoPlan
from orders.services.customers import customer_upsert
from orders.services.orders import order_ingest
from orders.services.products import product_upsert
from orders.services.shipments import shipment_ingest
from postpurchase.events.services import events_recorded_as_history
from postpurchase.tenancy.models import Merchant, User
from postpurchase.tenancy.permissions import Role
from postpurchase.tenancy.services import membership_set, merchant_create

# --- loading through the ingestion services -------------------------------------------------


@dataclass
class DemoOwner:
    user: User
    created: bool
    password_set: bool


@dataclass
class DemoLoadReport:
    customers: int = 0
    orders: int = 0
    shipments: int = 0
    changed: int = 0  # rows the services created or changed
    events: int = 0  # events recorded by this run


def demo_merchant_ensure() -> tuple[Merchant, bool]:
    """The demo merchant, created with its brand on first use and left as it is afterwards."""
    merchant = Merchant.objects.filter(slug=DEMO_SLUG).first()
    if merchant is not None:
        return merchant, False
    return merchant_create(slug=DEMO_SLUG, **MERCHANT_ATTRIBUTES), True


def demo_owner_ensure(*, merchant: Merchant, password: str | None) -> DemoOwner:
    """The demo's owner login. An existing user keeps their password unless one is given."""
    user = User.objects.filter(email=OWNER_EMAIL).first()
    created = user is None
    if user is None:
        user = User.objects.create_user(
            email=OWNER_EMAIL, password=password or OWNER_PASSWORD, full_name=OWNER_NAME
        )
    elif password is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
    membership_set(user=user, merchant=merchant, role=Role.OWNER)
    return DemoOwner(user=user, created=created, password_set=created or password is not None)


def demo_anchor(*, merchant: Merchant, today: date | None = None) -> date:
    """The day the demo's year ends: ``today`` when given, else the day the merchant was made
    (in the demo's own zone, so editing the merchant's settings cannot move it), so seeding again
    later regenerates the very same data."""
    if today is not None:
        return today
    return merchant.created_at.astimezone(STORE_TZ).date()


def _each(items: Iterable, description: str) -> Iterable:
    return items


def demo_load(
    *, merchant: Merchant, plan: DemoPlan, progress: Callable[[Iterable, str], Iterable] = _each
) -> DemoLoadReport:
    """Feed the plan to the ingestion services; ``progress`` wraps each batch (a progress bar).

    The events they record are history: stored as dispatched, with no dispatch task queued and
    no consumer run, so no journey enters and no webhook fires on a year of made-up orders (and
    a fresh install's worker starts with an empty queue)."""
    with events_recorded_as_history():
        return _load(merchant=merchant, plan=plan, progress=progress)


def _load(
    *, merchant: Merchant, plan: DemoPlan, progress: Callable[[Iterable, str], Iterable]
) -> DemoLoadReport:
    report = DemoLoadReport()
    for payload in plan.products:
        report.changed += product_upsert(merchant=merchant, payload=payload).changed
    for joined_at, payload in progress(plan.customers, "Customers"):
        result = customer_upsert(merchant=merchant, payload=payload, now=joined_at)
        report.customers += 1
        report.changed += result.changed
    for order, shipments in progress(plan.orders, "Orders"):
        results = [order_ingest(merchant=merchant, payload=order, source="web")]
        results += [shipment_ingest(merchant=merchant, payload=s) for s in shipments]
        report.orders += 1
        report.shipments += len(shipments)
        report.changed += sum(result.changed for result in results)
        report.events += sum(len(result.events) for result in results)
    return report
