"""What package protection plugs into (called from ``TrackingConfig.ready``)."""

from __future__ import annotations


def claims_register() -> None:
    from orders.privacy import privacy_parts
    from tracking.claims.erasure import claims_erase, claims_export
    from tracking.claims.events import events_register
    from tracking.claims.messages import messages_register

    events_register()  # claim.filed, claim.approved, claim.rejected, claim.resolved
    privacy_parts.register("claims", eraser=claims_erase, exporter=claims_export)
    messages_register()  # the claim template variable and the claim notices' blueprints
