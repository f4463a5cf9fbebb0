"""Partial updates addressed by our own id (the API's ``PATCH /customers/{id}``), for rows that
the merchant's ids cannot address. Ingestion by the merchant's ids lives in ``orders.services``;
both apply the rules of ``orders.ingest.rules``."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.errors import OrdersErrorCode
from orders.ingest.results import IngestResult
from orders.ingest.rules import customer_values, ingest_context
from orders.models import Customer
from orders.schemas import CustomerIn
from orders.services.customers import customer_apply, customer_upsert
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import parse_payload


def customer_update(
    *, merchant: Merchant, customer: Customer, changes: dict, now: datetime | None = None
) -> IngestResult:
    """Apply ``changes`` (CustomerIn fields) to one customer. A customer with an external id is
    updated through ``customer_upsert``, so both paths apply the same rules (consent is only
    replaced by a newer statement of it)."""
    if not isinstance(changes, dict):
        raise DomainError(OrdersErrorCode.INVALID, "The payload must be a JSON object.")
    held_id = customer.external_id
    if held_id and changes.get("external_id", held_id) == held_id:
        return customer_upsert(
            merchant=merchant, payload={**changes, "external_id": held_id}, now=now
        )
    identity = {"email": customer.email, "phone": customer.phone}
    identity = {k: v for k, v in identity.items() if v and k not in changes}
    data = parse_payload(CustomerIn, {**identity, **changes}, context=ingest_context(merchant))
    now = now or timezone.now()
    values = customer_values(data, now)
    if "external_id" in data.model_fields_set:
        values["external_id"] = data.external_id
    try:
        with transaction.atomic():
            locked = Customer.unscoped.select_for_update(no_key=True).get(
                pk=customer.pk, merchant=merchant
            )
            changed = customer_apply(customer=locked, values=values, now=now)
    except IntegrityError:
        raise DomainError(
            OrdersErrorCode.EXTERNAL_ID_TAKEN,
            f"Another customer already has external_id {data.external_id!r}.",
            field="external_id",
        ) from None
    return IngestResult(instance=locked, changed=changed)
