"""Package protection's reads: what the tracking page offers a parcel (``claim_offer``), and the
merchant's claims as the dashboard and the API list them."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from orders.models import Order, Shipment, TrackingEvent
from tracking.claims.links import claim_file_path, claim_page_path
from tracking.claims.models import Claim, ClaimState, ProtectionSettings
from tracking.claims.rules import eligibility, open_claim

OFFERED = ""  # a claim may be filed: url is its form
CLAIMED = "claimed"  # the parcel has a claim: url is its page


class ClaimOffer(tuple):
    """``(url, reason)``: ``url`` is the path of the claim form (reason ``""``), of the
    parcel's claim (reason ``"claimed"``), or ``None`` with the refusal's code as the reason
    (``protection_not_offered``, ``order_not_protected``, ``claim_too_early``…); ``message``
    is the refusal in the shopper's words."""

    def __new__(cls, url: str | None, reason: str, message: str = "") -> ClaimOffer:
        offer = super().__new__(cls, (url, reason))
        offer.message = message
        return offer

    @property
    def url(self) -> str | None:
        return self[0]

    @property
    def reason(self) -> str:
        return self[1]


def protection_settings_of(merchant) -> ProtectionSettings:
    """The merchant's settings as read (an unsaved default, off, for a merchant with none)."""
    found = ProtectionSettings.unscoped.filter(merchant=merchant).first()
    return found or ProtectionSettings(merchant=merchant)


def claim_offer(
    order: Order,
    shipment: Shipment,
    now: datetime,
    token: str | None = None,
    settings: ProtectionSettings | None = None,
) -> ClaimOffer:
    """What the tracking page shows for a parcel: a "Report a problem with this parcel" link
    when a claim can be filed now, a link to its claim when it has one, else nothing (the
    reason says why; a page shows nothing for ``protection_not_offered`` and
    ``order_not_protected``). ``token``: the tracking link the page was opened with, which the
    links reuse; ``settings``: the merchant's protection settings when the caller has read them
    already. Call within the merchant's scope."""
    merchant = order.merchant
    settings = settings if settings is not None else protection_settings_of(merchant)
    if not settings.offered:
        return ClaimOffer(None, "protection_not_offered")
    existing = open_claim(shipment)
    if existing is not None:
        return ClaimOffer(claim_page_path(merchant=merchant, claim=existing, token=token), CLAIMED)
    found = eligibility(order=order, shipment=shipment, settings=settings, now=now)
    if not found.kinds:
        return ClaimOffer(None, found.refusal.code, found.refusal.message)
    url = claim_file_path(
        merchant=merchant, order_id=order.pk, shipment_id=shipment.pk, token=token
    )
    return ClaimOffer(url, OFFERED)


def claim_list(*, claims: QuerySet | None = None, state: str = "") -> QuerySet:
    """The merchant's claims, newest first, optionally in one state."""
    claims = claims if claims is not None else Claim.objects.all()
    if state in ClaimState.values:
        claims = claims.filter(state=state)
    return claims.select_related("order", "shipment", "customer").order_by("-filed_at", "-id")


def claim_state_counts() -> dict[str, int]:
    from django.db.models import Count

    rows = Claim.objects.values("state").annotate(n=Count("id")).order_by()
    counts = {state: 0 for state in ClaimState.values}
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def claim_timeline(claim: Claim) -> list[TrackingEvent]:
    """The claimed parcel's carrier scans, newest first: what the merchant checks the claim
    against."""
    return list(
        TrackingEvent.objects.filter(shipment_id=claim.shipment_id).order_by("-occurred_at")
    )


def claims_of_order(order: Order) -> list[Claim]:
    return list(Claim.objects.filter(order=order).order_by("-filed_at"))
