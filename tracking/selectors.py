"""The tracking pillar's reads: open delay incidents for the dashboard's Tracking page (filtered by
reason, carrier and age, with the shopper's page views beside each), their counts, the delay
state of given shipments (the API's ``delay``), and the estimates' calibration.

An incident is open until the scan resolves it (``tracking/resolution.py``); its *age* is how
long it has been a delay: from ``delayed_at`` (when its threshold passed) to now, in hours, so a
bucket's edge is the same instant for every merchant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from orders.estimates import CalibrationRow, estimate_calibration
from postpurchase.tenancy.models import Merchant
from tracking.models import DelayIncident, DelayReason, DelaySettings, ShipmentPageViews

CALIBRATION_DAYS = 90
RECENT_VIEW_DAYS = 7  # "last 7 days": today (UTC) and the six days before


@dataclass(frozen=True)
class AgeBucket:
    key: str
    label: str
    min_days: int  # delayed at least this many days (inclusive)
    max_days: int | None  # and less than this many (None: no upper end)


AGE_BUCKETS = (
    AgeBucket("new", "Under 2 days", 0, 2),
    AgeBucket("week", "2–7 days", 2, 7),
    AgeBucket("old", "Over 7 days", 7, None),
)
# The list's orders: the longest delayed first, or the shipments shoppers look at most.
SORTS = {
    "age": ("delayed_at", "id"),
    "views": ("-views_total", "delayed_at", "id"),
    "recent_views": ("-views_recent", "delayed_at", "id"),
}


def _bucket_filter(bucket: AgeBucket, now: datetime) -> Q:
    condition = Q(delayed_at__lte=now - timedelta(days=bucket.min_days))
    if bucket.max_days is not None:
        condition &= Q(delayed_at__gt=now - timedelta(days=bucket.max_days))
    return condition


def _views(since: datetime | None = None) -> Subquery:
    """Page views of the incident's shipment (its merchant's rows only), all time or since a day."""
    rows = ShipmentPageViews.unscoped.filter(
        merchant_id=OuterRef("merchant_id"), shipment_id=OuterRef("shipment_id")
    )
    if since is not None:
        rows = rows.filter(day__gte=since.date())
    total = rows.values("shipment_id").annotate(total=Sum("views")).values("total")
    return Coalesce(Subquery(total, output_field=IntegerField()), Value(0))


def incidents_open(
    *,
    now: datetime,
    incidents: QuerySet[DelayIncident] | None = None,
    reason: str = "",
    carrier: str = "",
    age: str = "",
    sort: str = "age",
) -> QuerySet[DelayIncident]:
    """The current merchant's open incidents (of the given scoped ``incidents``), with their
    shipment and order, and ``views_total`` / ``views_recent``: the tracking page's views of the
    shipment, all time and in the last ``RECENT_VIEW_DAYS`` UTC days (0 for an order's
    incident). An empty or unknown reason, age or sort is no filter or the default order (the
    page's form has refused it already); an empty carrier is any."""
    incidents = DelayIncident.objects.all() if incidents is None else incidents
    incidents = incidents.filter(resolved_at__isnull=True)
    if reason in DelayReason.values:
        incidents = incidents.filter(reason=reason)
    if carrier:
        incidents = incidents.filter(shipment__carrier=carrier)
    bucket = next((bucket for bucket in AGE_BUCKETS if bucket.key == age), None)
    if bucket is not None:
        incidents = incidents.filter(_bucket_filter(bucket, now))
    recent = now - timedelta(days=RECENT_VIEW_DAYS - 1)
    return (
        incidents.select_related("order", "shipment")
        .annotate(views_total=_views(), views_recent=_views(recent))
        .order_by(*SORTS.get(sort, SORTS["age"]))
    )


@dataclass(frozen=True)
class IncidentCounts:
    total: int
    by_reason: list[tuple[str, str, int]]  # (reason, label, open incidents), every reason
    by_carrier: list[tuple[str, int]]  # (carrier, open incidents), most first; "" for none
    by_age: list[tuple[AgeBucket, int]]


def incident_counts(*, now: datetime) -> IncidentCounts:
    """The current merchant's open incidents counted by reason (each reason, zeros included),
    by carrier (of the shipments; an order's incident has none) and by age. Two queries."""
    incidents = DelayIncident.objects.filter(resolved_at__isnull=True)
    totals = incidents.aggregate(
        total=Count("id"),
        **{bucket.key: Count("id", filter=_bucket_filter(bucket, now)) for bucket in AGE_BUCKETS},
        **{reason: Count("id", filter=Q(reason=reason)) for reason in DelayReason.values},
    )
    carriers = (
        incidents.filter(shipment__isnull=False)
        .values("shipment__carrier")
        .annotate(count=Count("id"))
        .order_by("-count", "shipment__carrier")
    )
    return IncidentCounts(
        total=totals["total"],
        by_reason=[(reason, label, totals[reason]) for reason, label in DelayReason.choices],
        by_carrier=[(row["shipment__carrier"], row["count"]) for row in carriers],
        by_age=[(bucket, totals[bucket.key]) for bucket in AGE_BUCKETS],
    )


def delay_states(*, merchant: Merchant, shipment_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The open delay of each of ``merchant``'s shipments that has one, by shipment id:
    ``{"reason", "since", "delayed_at"}``. A shipment with several open incidents (late in
    transit and past its estimate) shows the one that became a delay first. One query."""
    ids = sorted(set(shipment_ids))
    if not ids:
        return {}
    rows = (
        DelayIncident.unscoped.filter(
            merchant=merchant, shipment_id__in=ids, resolved_at__isnull=True
        )
        .order_by("shipment_id", "delayed_at", "id")
        .distinct("shipment_id")
        .values_list("shipment_id", "reason", "since", "delayed_at")
    )
    return {
        shipment_id: {"reason": reason, "since": since, "delayed_at": delayed_at}
        for shipment_id, reason, since, delayed_at in rows
    }


def delay_settings_read(*, merchant: Merchant) -> DelaySettings:
    """The merchant's delay settings, or (unsaved) the defaults the scan uses when it has none:
    reading them writes nothing."""
    stored = DelaySettings.unscoped.filter(merchant=merchant).first()
    return stored if stored is not None else DelaySettings(merchant=merchant)


@dataclass(frozen=True)
class CalibrationLine:
    carrier: str
    delivered: int
    inside: int
    early: int
    late: int
    inside_percent: int  # to the nearest whole percent, halves up


def _percent(part: int, whole: int) -> int:
    """``part`` of ``whole`` in whole percent, halves rounded up (5 of 8 is 63)."""
    return (200 * part + whole) // (2 * whole) if whole else 0


def calibration(*, merchant: Merchant, now: datetime, days: int = CALIBRATION_DAYS):
    """Per carrier, the deliveries of the last ``days`` days that had a range shown, and how many
    landed inside it, before it and after it (``orders.estimates.estimate_calibration``)."""
    rows: list[CalibrationRow] = estimate_calibration(
        merchant=merchant, since=now - timedelta(days=days)
    )
    return [
        CalibrationLine(
            carrier=row.carrier,
            delivered=row.delivered,
            inside=row.inside,
            early=row.early,
            late=row.late,
            inside_percent=_percent(row.inside, row.delivered),
        )
        for row in rows
    ]
