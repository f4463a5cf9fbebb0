"""Erasing and exporting a customer's personal data, for every merchant and every app.

A customer's data lives in many apps: orders (the customer, their orders' parcels), the event
log, messages, journeys, webhook deliveries, inbound webhook bodies, and each pillar to come.
None of them is imported here. Each app registers its part in its ``AppConfig.ready()``::

    privacy_parts.register(
        "notifications", eraser=messages_erase, exporter=messages_export
    )

and ``customers_erase`` / ``customers_export`` ask every registered part in turn, inside one
transaction per merchant with the merchant in scope (so a part reads through ``objects``).

Each part receives a ``PrivacyTarget``: the customers' ids, their orders' ids, and the contact
details and names they had *before* anything was erased (the orders part blanks the customer row,
so a later part could not read them from it). A part's ``eraser`` returns how many of its rows it
changed, by name; its ``exporter`` returns sections of the export, by name. A ``prepare`` hook
runs before any eraser (connectors processes the webhooks about the person still waiting, so an
order update or a refund is applied before its body is dropped).

What is kept is what the merchant's books need (Shopify's redact semantics): ids, orders, lines,
totals, statuses and times stay, no longer linked to a person's details. docs/architecture.md
("Erasure and export") lists what each part erases and keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from django.db import transaction

from orders.events import CUSTOMER_REDACTED
from orders.models import Customer, Order
from postpurchase.events.services import event_record
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import merchant_scope

REDACTED = "[redacted]"
# Keys whose values are personal wherever they appear in a payload we keep.
PII_KEYS = frozenset(
    {
        "email",
        "phone",
        "first_name",
        "last_name",
        "name",
        "full_name",
        "birthday",
        "address",
        "address1",
        "address2",
        "billing_address",
        "shipping_address",
        "zip",
        "postcode",
        "browser_ip",
        "ip",
        "ip_address",
    }
)


@dataclass(frozen=True)
class PrivacyTarget:
    """Whom an erasure or export is about, as it stood before anything was erased.

    ``contains`` are values a text is personal for holding anywhere (an email, a phone number,
    a full name of two words or more); ``equals`` are values a text is personal for being (a
    first or last name alone: "Jon" inside "Jonathan" is not Jon)."""

    customer_ids: tuple[int, ...]
    order_ids: tuple[int, ...]
    order_external_ids: frozenset[str]
    external_ids: frozenset[str]
    emails: frozenset[str]
    phones: frozenset[str]
    contains: frozenset[str]
    equals: frozenset[str]

    @property
    def addresses(self) -> frozenset[str]:
        """The addresses a message may have gone to: emails (lower-cased) and phone numbers."""
        return self.emails | self.phones

    def mentions(self, text: str) -> bool:
        lowered = text.strip().lower()
        return bool(lowered) and (
            lowered in self.equals or any(needle in lowered for needle in self.contains)
        )

    def scrub_text(self, text: str) -> str:
        """``text``, or ``[redacted]`` when it mentions the person."""
        return REDACTED if self.mentions(text) else text

    def scrub(self, value: Any) -> Any:
        """``value`` (JSON data) with every personal value replaced: any value under a personal
        key, and any string that mentions the person."""
        if isinstance(value, dict):
            return {
                key: REDACTED
                if str(key).lower() in PII_KEYS and value[key] not in (None, "", [], {})
                else self.scrub(value[key])
                for key in value
            }
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        if isinstance(value, str):
            return self.scrub_text(value)
        return value


def _street_lines(order_ids: tuple[int, ...]) -> set[str]:
    """The orders' shipping addresses' street lines and names (lower case), texts a kept copy
    is personal for holding: a street line names a home. Short ones are left out (``1 A``
    would match too much); the postcode alone is left out for the same reason."""
    needles = set()
    addresses = Order.unscoped.filter(pk__in=order_ids).exclude(shipping_address={})
    for address in addresses.values_list("shipping_address", flat=True):
        needles.update(
            text.strip().lower()
            for text in (address.get("address1", ""), address.get("name", ""))
            if len(text.strip()) >= 6 and " " in text.strip()
        )
    return needles


def privacy_target(
    *,
    merchant: Merchant,
    customers: Iterable[Customer],
    order_external_ids: Collection[str] = (),
    external_ids: Collection[str] = (),
    emails: Collection[str] = (),
) -> PrivacyTarget:
    """The target for ``customers`` (read from the database as they are now), their orders and
    the orders named by ``order_external_ids``; ``external_ids`` and ``emails`` add the store's
    id and email of a person a request names, for rows we hold under no customer."""
    customers = list(customers)
    ids = tuple(sorted({c.pk for c in customers}))
    rows = list(
        Customer.unscoped.filter(merchant=merchant, pk__in=ids).values_list(
            "external_id", "email", "phone", "first_name", "last_name"
        )
    )
    orders = list(
        Order.unscoped.filter(merchant=merchant, customer_id__in=ids).values_list(
            "pk", "external_id"
        )
    ) + list(
        Order.unscoped.filter(merchant=merchant, external_id__in=list(order_external_ids))
        .exclude(customer_id__in=ids)
        .values_list("pk", "external_id")
    )
    order_ids = tuple(sorted({pk for pk, _ in orders}))
    mail = {e.lower() for e in emails if e} | {row[1].lower() for row in rows if row[1]}
    phones = {row[2] for row in rows if row[2]}
    names = {n.strip().lower() for row in rows for n in row[3:5] if n and n.strip()}
    full = {" ".join(p.strip() for p in row[3:5] if p and p.strip()).lower() for row in rows}
    return PrivacyTarget(
        customer_ids=ids,
        order_ids=order_ids,
        order_external_ids=frozenset(order_external_ids) | {ext for _, ext in orders},
        external_ids=frozenset(e for e in external_ids if e) | {r[0] for r in rows if r[0]},
        emails=frozenset(mail),
        phones=frozenset(phones),
        contains=frozenset(
            mail | phones | {name for name in full if " " in name} | _street_lines(order_ids)
        ),
        equals=frozenset(names | full) - {""},
    )


def _merged(first: PrivacyTarget, second: PrivacyTarget) -> PrivacyTarget:
    """Both targets' ids and details: a webhook processed by a ``prepare`` hook may have brought
    an order or a new email, while the old email is still in the rows written before."""
    values = {}
    for field in fields(PrivacyTarget):
        a, b = getattr(first, field.name), getattr(second, field.name)
        values[field.name] = tuple(sorted(set(a) | set(b))) if isinstance(a, tuple) else a | b
    return PrivacyTarget(**values)


# What an erased customer row holds (the orders part writes it; anything else is personal).
ERASED_CUSTOMER: dict[str, Any] = {
    "email": "",
    "phone": "",
    "first_name": "",
    "last_name": "",
    "timezone": "",
    "locale": "",
    "birthday": None,
    "tags": [],
    "email_marketing_consent": False,
    "email_consent_updated_at": None,
    "email_consent_source": "",
    "sms_marketing_consent": False,
    "sms_consent_updated_at": None,
    "sms_consent_source": "",
}


# --- the registry ------------------------------------------------------------------------------

# eraser(*, merchant, target, now) -> {what: rows changed}
Eraser = Callable[..., dict[str, int]]
# exporter(*, merchant, target) -> {section: JSON-ready data}
Exporter = Callable[..., dict[str, Any]]
# prepare(*, merchant, target, now) -> None: runs before any eraser
Prepare = Callable[..., None]


@dataclass(frozen=True)
class PrivacyPart:
    name: str
    eraser: Eraser
    exporter: Exporter | None = None
    prepare: Prepare | None = None


class PrivacyRegistry:
    """The apps that hold a customer's personal data, each with its eraser and exporter."""

    def __init__(self) -> None:
        self._parts: dict[str, PrivacyPart] = {}

    def register(
        self,
        name: str,
        *,
        eraser: Eraser,
        exporter: Exporter | None = None,
        prepare: Prepare | None = None,
    ) -> None:
        """Add the part ``name`` (a second registration under a name replaces it, so ``ready()``
        running twice registers once). The orders part is registered first (``OrdersConfig``
        loads before the apps that build on it), so its sections lead the export."""
        self._parts[name] = PrivacyPart(name, eraser, exporter, prepare)

    def parts(self, *, skip: Collection[str] = ()) -> list[PrivacyPart]:
        return [part for name, part in self._parts.items() if name not in skip]

    def names(self) -> list[str]:
        return list(self._parts)


privacy_parts = PrivacyRegistry()


# --- the services --------------------------------------------------------------------------------


def customers_erase(
    *,
    merchant: Merchant,
    customers: Iterable[Customer],
    now: datetime,
    source: str,
    target: PrivacyTarget | None = None,
    request_id: str | None = None,
    skip: Collection[str] = (),
) -> dict[str, int]:
    """Erase these customers' personal data in every app, in one transaction, and record
    ``customer.redacted`` for each customer whose row held personal data, or for all of them
    when another part changed something (a second erasure changes nothing and records
    nothing). Returns how many rows each part changed, by name.

    ``target`` widens what is erased beyond the customers (``privacy_target`` with the orders
    and ids a request names); ``request_id`` makes the events' dedupe key (a Shopify delivery);
    ``skip`` names parts the caller erases itself in bulk (shop/redact drops every inbound body
    at once)."""
    customers = list(customers)
    with transaction.atomic(), merchant_scope(merchant):
        ids = [c.pk for c in customers]
        # Ingestion and message_send lock customers first too: one order, no deadlock.
        list(Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))
        holding = set(
            Customer.objects.filter(pk__in=ids)
            .exclude(**ERASED_CUSTOMER)
            .values_list("pk", flat=True)
        )
        found = privacy_target(merchant=merchant, customers=customers)
        target = _merged(target, found) if target is not None else found
        parts = privacy_parts.parts(skip=skip)
        for part in parts:
            if part.prepare is not None:
                part.prepare(merchant=merchant, target=target, now=now)
        target = _merged(target, privacy_target(merchant=merchant, customers=customers))
        summary: dict[str, int] = {}
        for part in parts:
            for what, count in part.eraser(merchant=merchant, target=target, now=now).items():
                summary[what] = summary.get(what, 0) + count
        elsewhere = any(count for what, count in summary.items() if what != "customers")
        for customer in customers:
            if customer.pk in holding or elsewhere:
                event_record(
                    merchant=merchant,
                    type=CUSTOMER_REDACTED,
                    customer=customer,
                    payload={"customer_id": customer.pk},
                    dedupe_key=(
                        f"{CUSTOMER_REDACTED}:{customer.pk}:{request_id}" if request_id else None
                    ),
                    source=source,
                    now=now,
                )
    return summary


def customer_erase(
    *, merchant: Merchant, customer: Customer, now: datetime, source: str
) -> dict[str, int]:
    """Erase one customer's personal data everywhere (the API's and the dashboard's door)."""
    return customers_erase(merchant=merchant, customers=[customer], now=now, source=source)


def customers_export(
    *, merchant: Merchant, customers: Iterable[Customer], target: PrivacyTarget | None = None
) -> dict[str, Any]:
    """Everything every app holds on these customers, as JSON-ready data: the merchant, then
    each part's sections (``customers``, ``orders``, ``events``, ``messages``, …)."""
    with merchant_scope(merchant):
        target = target or privacy_target(merchant=merchant, customers=customers)
        export: dict[str, Any] = {"merchant": {"name": merchant.name, "slug": merchant.slug}}
        for part in privacy_parts.parts():
            if part.exporter is not None:
                export.update(part.exporter(merchant=merchant, target=target))
    return export


def customer_export(*, merchant: Merchant, customer: Customer) -> dict[str, Any]:
    """Everything we hold on one customer (the API's and the dashboard's door)."""
    return customers_export(merchant=merchant, customers=[customer])


def export_counts(export: dict[str, Any]) -> dict[str, int]:
    """How many items each list section of an export holds (a privacy request's summary)."""
    return {key: len(value) for key, value in export.items() if isinstance(value, list)}
