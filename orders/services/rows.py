"""Row locking shared by the services that write one row at a time (customers, products,
shipments)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from postpurchase.tenancy.models import Merchant


def lock_or_create(model, *, merchant: Merchant, lookup: dict, defaults: dict):
    """Fetch the row for ``lookup`` locked for update, or create it. Safe under concurrency: the
    loser of an insert race falls back to locking the winner's row.

    Locks are ``FOR NO KEY UPDATE`` throughout ingestion: they serialise writers of the same row
    but let other transactions insert rows that merely reference it (an event naming the
    customer, a line naming the product)."""
    queryset = model.unscoped.select_for_update(no_key=True).filter(merchant=merchant, **lookup)
    instance = queryset.first()
    if instance is not None:
        return instance, False
    try:
        with transaction.atomic():
            return model.unscoped.create(merchant=merchant, **lookup, **defaults), True
    except IntegrityError:
        return queryset.get(), False
