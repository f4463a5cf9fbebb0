"""Claims in a customer's erasure and export (``orders.privacy``, registered in
``TrackingConfig.ready``).

Erased: the statement the shopper wrote, the merchant's message to them, and their photos (the
rows at once, the files once the erasure has committed). Kept, as the merchant's books need:
the claim's number, kind, state, resolution, refund amount, replacement order and times.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from orders.privacy import PrivacyTarget
from postpurchase.tenancy.models import Merchant
from tracking.claims.models import Claim, ClaimPhoto
from tracking.claims.storage import claim_photo_storage


def _claims(target: PrivacyTarget):
    return Claim.objects.filter(
        Q(customer_id__in=target.customer_ids) | Q(order_id__in=target.order_ids)
    )


def claims_erase(*, merchant: Merchant, target: PrivacyTarget, now: datetime) -> dict[str, int]:
    """Blank the claims' words and delete their photos; a claim already blank with no photo
    is not counted (a second erasure changes nothing)."""
    claims = _claims(target)
    photos = ClaimPhoto.objects.filter(claim__in=claims)
    names = list(photos.values_list("file", flat=True))
    removed = photos.delete()[0]
    changed = claims.exclude(statement="", decision_message="").update(
        statement="", decision_message="", erased_at=now, updated_at=now
    )
    if names:
        storage = claim_photo_storage()
        transaction.on_commit(lambda: [storage.delete(name) for name in names])
    return {"claims": changed, "claim_photos": removed}


def claims_export(*, merchant: Merchant, target: PrivacyTarget) -> dict[str, Any]:
    """The customer's claims, as they stand (photos by count: the files are the merchant's to
    send on request)."""
    rows = []
    for claim in _claims(target).select_related("order").order_by("filed_at", "id"):
        rows.append(
            {
                "number": claim.reference,
                "order_number": claim.order.number,
                "kind": claim.kind,
                "statement": claim.statement,
                "state": claim.state,
                "decision_message": claim.decision_message,
                "resolution": claim.resolution,
                "photos": ClaimPhoto.objects.filter(claim=claim).count(),
                "filed_at": claim.filed_at.isoformat(),
            }
        )
    return {"claims": rows}
