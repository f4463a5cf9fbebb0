"""Customers written on their own (``PATCH``/``PUT`` of a customer, imports, the demo): keyed by
the merchant's external id, else by email, else by phone. The rules are the engine's
(``orders.ingest.rules``); an order's customer is written by the engine itself."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from orders.ingest import db
from orders.ingest.results import IngestResult
from orders.ingest.rules import (
    assign,
    contact_lock_key,
    customer_contacts,
    customer_values,
    ingest_context,
    keep_newer_consent,
)
from orders.models import Customer
from orders.schemas import CustomerIn
from orders.services.rows import lock_or_create
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import parse_payload


def customer_by_contact(customers, data: CustomerIn) -> Customer | None:
    """The oldest of ``customers`` with the shopper's email, else with their phone."""
    for lookup in ({"email": data.email.lower()}, {"phone": data.phone}):
        value = next(iter(lookup.values()))
        found = value and customers.filter(**lookup).order_by("id").first()
        if found:
            return found
    return None


def customer_apply(*, customer: Customer, values: dict, now: datetime) -> bool:
    """Apply ``values`` (``rules.customer_values``) to a locked customer: consent only when
    newer than the one held. Saves and returns whether anything changed."""
    keep_newer_consent(customer, values)
    changed = assign(customer, values)
    if changed:
        customer.updated_at = now
        customer.save()
    return changed


def _customer_upsert(*, merchant: Merchant, data: CustomerIn, now: datetime) -> IngestResult:
    values = customer_values(data, now)
    if data.external_id:
        customer, created = lock_or_create(
            Customer,
            merchant=merchant,
            lookup={"external_id": data.external_id},
            defaults={**values, "created_at": now, "updated_at": now},
        )
    else:
        # No external id: the shopper is known by email, else by phone. No constraint can make
        # that unique (integrators' rows may share an email), so a lock per contact serialises
        # two deliveries that would both create the same shopper (the engine takes the same).
        contacts = customer_contacts(data)
        db.lock_contacts([contact_lock_key(merchant, contact) for contact in contacts])
        customer = customer_by_contact(
            Customer.unscoped.select_for_update(no_key=True).filter(merchant=merchant), data
        )
        created = customer is None
        if created:
            customer = Customer.unscoped.create(
                merchant=merchant, created_at=now, updated_at=now, **values
            )
    if created:
        return IngestResult(instance=customer, created=True, changed=True)
    changed = customer_apply(customer=customer, values=values, now=now)
    return IngestResult(instance=customer, changed=changed)


def customer_upsert(
    *, merchant: Merchant, payload: CustomerIn | dict, now: datetime | None = None
) -> IngestResult:
    """Create or update a customer by external id, else email, else phone."""
    data = parse_payload(CustomerIn, payload, context=ingest_context(merchant))
    with transaction.atomic():
        return _customer_upsert(merchant=merchant, data=data, now=now or timezone.now())
