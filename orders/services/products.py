"""Products written on their own (the API's product endpoints, the demo). An order's nested
products are written by the engine with the same rules (``orders.ingest.rules``)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.ingest.results import IngestResult
from orders.ingest.rules import assign, product_price_check, product_values
from orders.models import Product
from orders.schemas import ProductIn
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import parse_payload


def product_upsert(
    *, merchant: Merchant, payload: ProductIn | dict, now: datetime | None = None
) -> IngestResult:
    """Create the product, or update it when the payload differs. An unchanged product is not
    locked: a best-seller named by many orders at once must not serialise their ingestion."""
    data = parse_payload(ProductIn, payload)
    now = now or timezone.now()
    product_price_check(data, merchant.currency)
    values = product_values(data)
    with transaction.atomic():
        rows = Product.unscoped.filter(merchant=merchant, external_id=data.external_id)
        product = rows.first()
        if product is None:
            try:
                with transaction.atomic():
                    product = Product.unscoped.create(
                        merchant=merchant,
                        external_id=data.external_id,
                        created_at=now,
                        updated_at=now,
                        **values,
                    )
                return IngestResult(instance=product, created=True, changed=True)
            except IntegrityError:
                product = rows.get()  # created by a concurrent delivery, now committed
        if all(getattr(product, name) == value for name, value in values.items()):
            return IngestResult(instance=product)
        product = rows.select_for_update(no_key=True).get()
        changed = assign(product, values)
        if changed:
            product.updated_at = now
            product.save()
        return IngestResult(instance=product, changed=changed)
