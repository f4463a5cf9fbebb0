"""Estimated delivery as a range of dates, measured from the merchant's own deliveries, and how
often deliveries landed inside the range shown (calibration).

A shipment's range, in this order:

1. **carrier**: the carrier's own date (``Shipment.estimated_delivery``), a single day;
2. **history**: this merchant's transit times, in business days (Monday to Friday) from the day
   the parcel left to the day it was delivered, both in the merchant's time zone, for its
   carrier, narrowed to its service and destination where there are enough of them: the first
   of (carrier, service, country, province), (carrier, service, country), (carrier, country),
   (carrier) with at least ``MIN_SAMPLES`` deliveries of the last ``HISTORY_DAYS`` days; the
   range is their ``LOW``-th to ``HIGH``-th percentile (nearest rank), a single day when both
   fall on the same one;
3. **default**: the carrier's usual domestic range (``CARRIER_DEFAULTS``), or 2 to 7 business
   days for a carrier not listed.

Days are counted from the day the parcel left (its first movement, else the day the shipment was
recorded). A business day is a weekday that is not a public holiday of the merchant's country
(the ``holidays`` package's calendar of it; a country it does not know has weekdays only): the
carriers the merchant hands parcels to keep that country's holidays.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
from django.core.cache import cache
from django.db.models import Count, F, Q

from orders.models import Order, Shipment, ShipmentStatus
from postpurchase.tenancy.models import Merchant

LOW, HIGH = 25, 85  # percentiles of the range shown
MIN_SAMPLES = 20
HISTORY_DAYS = 180
HISTORY_LIMIT = 1000  # the latest deliveries read for one estimate
CACHE_SECONDS = 3600
CACHE_PREFIX = "estimates"
# The carriers' usual domestic ranges, in business days: what a merchant without history of a
# carrier is shown. Matched on words of the carrier's name, lower case.
CARRIER_DEFAULTS: dict[str, tuple[int, int]] = {
    "usps": (2, 5),
    "ups": (1, 5),
    "fedex": (1, 5),
    "dhl": (2, 6),
    "royal mail": (1, 3),
    "canada post": (2, 7),
    "australia post": (2, 6),
    "dpd": (1, 3),
    "evri": (2, 4),
    "postnl": (1, 2),
}
DEFAULT_RANGE = (2, 7)


@dataclass(frozen=True)
class Estimate:
    earliest: date
    latest: date
    basis: str  # carrier, history or default
    samples: int = 0  # the deliveries a history estimate stands on

    @property
    def single_day(self) -> bool:
        return self.earliest == self.latest


@functools.lru_cache(maxsize=512)
def public_holidays(country: str, year: int) -> frozenset[date]:
    """The public holidays of ``country`` (ISO 3166 alpha-2) in ``year``; none for a country the
    calendar does not know, or none given."""
    if not country:
        return frozenset()
    try:
        return frozenset(holidays.country_holidays(country.upper(), years=[year]))
    except NotImplementedError:  # what the package raises for a country it has no calendar of
        return frozenset()


def is_business_day(day: date, country: str = "") -> bool:
    return day.weekday() < 5 and day not in public_holidays(country, day.year)


def business_days_between(start: date, end: date, country: str = "") -> int:
    """Business days after ``start`` up to and including ``end``; 0 when ``end`` is not later."""
    if end <= start:
        return 0
    weeks, rest = divmod((end - start).days, 7)
    weekday = start.weekday()
    weekdays = weeks * 5 + sum(1 for step in range(1, rest + 1) if (weekday + step) % 7 < 5)
    closed = sum(
        1
        for year in range(start.year, end.year + 1)
        for day in public_holidays(country, year)
        if start < day <= end and day.weekday() < 5
    )
    return weekdays - closed


def business_days_after(start: date, days: int, country: str = "") -> date:
    """The ``days``-th business day after ``start`` (``start`` itself for 0)."""
    current, counted = start, 0
    while counted < days:
        current += timedelta(days=1)
        if is_business_day(current, country):
            counted += 1
    return current


def percentile(values: list[int], share: int) -> int:
    """Nearest-rank percentile of a non-empty list: the smallest value with at least ``share``
    per cent of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share / 100 * len(ordered)), 1) - 1]


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _destination(order: Order) -> tuple[str, str]:
    address = order.shipping_address or {}
    return (
        str(address.get("country_code") or "").upper(),
        str(address.get("province_code") or "").upper(),
    )


def transit_days_history(
    *, merchant: Merchant, carrier: str, service: str, country: str, province: str, today: date
) -> tuple[list[int], str]:
    """The merchant's recent transit times (business days) for the narrowest of the levels that
    has ``MIN_SAMPLES`` deliveries, and that level's name; ``([], "")`` when none has."""
    if not carrier:
        return [], ""
    where = {"service": service, "country": country, "province": province}
    levels = [
        ("carrier, service, country, province", where),
        ("carrier, service, country", {"service": service, "country": country}),
        ("carrier, country", {"country": country}),
        ("carrier", {}),
    ]
    zone = ZoneInfo(merchant.timezone)
    since = today - timedelta(days=HISTORY_DAYS)
    for name, keys in levels:
        if any(not value for value in keys.values()):
            continue  # this shipment does not say: the level cannot be matched
        level = "|".join([carrier.lower(), *(f"{k}={v.lower()}" for k, v in sorted(keys.items()))])
        digest = hashlib.blake2b(level.encode(), digest_size=16).hexdigest()
        cache_key = f"{CACHE_PREFIX}:{merchant.pk}:{digest}"
        days = cache.get(cache_key)
        if days is None:
            rows = Shipment.unscoped.filter(
                merchant=merchant,
                carrier__iexact=carrier,
                status=ShipmentStatus.DELIVERED,
                shipped_at__isnull=False,
                delivered_at__gte=datetime.combine(since, datetime.min.time(), tzinfo=zone),
            )
            if "service" in keys:
                rows = rows.filter(service__iexact=keys["service"])
            if "country" in keys:
                rows = rows.filter(order__shipping_address__country_code=keys["country"])
            if "province" in keys:
                rows = rows.filter(order__shipping_address__province_code=keys["province"])
            days = [
                business_days_between(
                    _local_day(shipped, zone), _local_day(delivered, zone), merchant.country
                )
                for shipped, delivered in rows.order_by("-delivered_at").values_list(
                    "shipped_at", "delivered_at"
                )[:HISTORY_LIMIT]
            ]
            cache.set(cache_key, days, CACHE_SECONDS)
        if len(days) >= MIN_SAMPLES:
            return days, name
    return [], ""


def carrier_default(carrier: str) -> tuple[int, int]:
    name = carrier.lower()
    for key, days in CARRIER_DEFAULTS.items():
        if key in name.replace("-", " ").split() or name.startswith(key):
            return days
    return DEFAULT_RANGE


def shipment_estimate(
    *, merchant: Merchant, shipment: Shipment, order: Order, today: date
) -> Estimate | None:
    """The range to show for ``shipment``; ``None`` once it is delivered or back with the
    merchant (nothing left to estimate)."""
    if shipment.status in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED_TO_SENDER):
        return None
    if shipment.estimated_delivery:
        day = shipment.estimated_delivery
        return Estimate(day, day, "carrier")
    zone = ZoneInfo(merchant.timezone)
    start = _local_day(shipment.shipped_at or shipment.created_at, zone)
    country, province = _destination(order)
    days, _ = transit_days_history(
        merchant=merchant,
        carrier=shipment.carrier,
        service=shipment.service,
        country=country,
        province=province,
        today=today,
    )
    if days:
        low, high = percentile(days, LOW), percentile(days, HIGH)
        return Estimate(
            business_days_after(start, low, merchant.country),
            business_days_after(start, high, merchant.country),
            "history",
            len(days),
        )
    low, high = carrier_default(shipment.carrier)
    return Estimate(
        business_days_after(start, low, merchant.country),
        business_days_after(start, high, merchant.country),
        "default",
    )


def estimate_store(*, shipment: Shipment, estimate: Estimate | None) -> bool:
    """Keep ``estimate`` on the shipment as the range shown; whether anything changed (the
    caller saves). A delivered shipment keeps the last range it was shown."""
    if estimate is None:
        return False
    values = (estimate.earliest, estimate.latest, estimate.basis)
    if (shipment.estimate_earliest, shipment.estimate_latest, shipment.estimate_basis) == values:
        return False
    shipment.estimate_earliest, shipment.estimate_latest, shipment.estimate_basis = values
    return True


@dataclass(frozen=True)
class CalibrationRow:
    carrier: str
    delivered: int  # deliveries that had a range shown
    inside: int  # of which landed inside it
    early: int
    late: int

    @property
    def share_inside(self) -> float:
        return self.inside / self.delivered if self.delivered else 0.0


def estimate_calibration(*, merchant: Merchant, since: datetime) -> list[CalibrationRow]:
    """Per carrier, of the shipments delivered since ``since`` that had a range shown, how many
    landed inside it, before it and after it (the delivery day in the merchant's time zone).
    One query."""
    from django.db.models.functions import TruncDate

    zone = ZoneInfo(merchant.timezone)
    rows = (
        Shipment.unscoped.filter(
            merchant=merchant,
            status=ShipmentStatus.DELIVERED,
            delivered_at__gte=since,
            estimate_earliest__isnull=False,
            estimate_latest__isnull=False,
        )
        .annotate(day=TruncDate("delivered_at", tzinfo=zone))
        .values("carrier")
        .annotate(
            delivered=Count("pk"),
            early=Count("pk", filter=Q(day__lt=F("estimate_earliest"))),
            late=Count("pk", filter=Q(day__gt=F("estimate_latest"))),
        )
        .order_by("carrier")
    )
    return [
        CalibrationRow(
            carrier=row["carrier"],
            delivered=row["delivered"],
            inside=row["delivered"] - row["early"] - row["late"],
            early=row["early"],
            late=row["late"],
        )
        for row in rows
    ]
