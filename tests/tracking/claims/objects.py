"""A filed claim with a photo, written straight to the rows (the access matrices need one per
merchant, not the filing rules)."""

from __future__ import annotations

from django.core.files.base import ContentFile

from orders.models import Shipment
from tests.tracking.claims.conftest import png_bytes
from tracking.claims.models import Claim, ClaimPhoto, ProtectionSettings


def claim_objects(merchant, order) -> dict:
    ProtectionSettings.unscoped.update_or_create(
        merchant=merchant, defaults={"offered": True, "protection_products": ["SKU-P"]}
    )
    shipment = Shipment.unscoped.filter(order=order).first()
    claim = Claim.unscoped.create(
        merchant=merchant,
        number=1,
        order=order,
        shipment=shipment,
        customer=order.customer,
        kind="damaged",
        statement="The box was crushed.",
        filed_at=order.placed_at,
    )
    photo = ClaimPhoto(
        merchant=merchant, claim=claim, content_type="image/png", size=len(png_bytes())
    )
    photo.file.save("photo", ContentFile(png_bytes()), save=False)
    photo.save()
    return {"claim": claim, "claim_photo": photo}
