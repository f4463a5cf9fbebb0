"""Delay detection: a periodic scan that tells a merchant (and, through journeys, the shopper)
about a parcel in trouble before the shopper asks (docs/tracking.md, "Delay detection").

Set-based: one SQL statement per kind of delay, over every active merchant at once, inserts the
incidents it finds into ``DelayIncident`` with ``ON CONFLICT DO NOTHING RETURNING``; events are
recorded, in the same transaction, only for the rows actually inserted. The incident's unique key
(merchant, shipment or order, reason, since) makes each incident raise its event once, however
often the scan runs and however many scans run at once: a second scan's insert waits on the
first's uncommitted row and then does nothing.

Thresholds are counted in the merchant's time zone: "N days" after a moment is the same wall-clock
time N calendar days later there (23 or 25 hours across a daylight-saving change), a date ends
at the merchant's midnight, and business days skip Saturdays and Sundays.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from orders import events
from orders.ingest.events import order_event_payload, shipment_event_payload
from orders.models import FulfillmentStatus, Order, OrderLine, Shipment, ShipmentStatus
from orders.services import shipment_ingest
from postpurchase import rows
from postpurchase.errors import DomainError
from postpurchase.events.services import EventSpec, event_record_many
from postpurchase.tenancy.models import Merchant
from tracking.models import DELAY_SETTINGS, DelayIncident, DelayReason, DelaySettings

logger = logging.getLogger(__name__)

S = ShipmentStatus
# Statuses after which nothing more is expected of the carrier, or no more of the scan.
DONE = (S.DELIVERED, S.RETURNED_TO_SENDER, S.EXPIRED)
OPEN = tuple(status.value for status in S if status not in DONE)

# Every active merchant with its thresholds: its own row, or the defaults when it has none.
# The statements below are built only from this module's constants and the models' table names;
# every value (the clock, the statuses, the reason, the defaults) is a parameter. A time zone
# name PostgreSQL does not know (Python's and PostgreSQL's zone lists can differ) counts as UTC,
# so one merchant's setting can never make the statement fail for every merchant: ``zones`` (a
# parameter, ``zones_known``) lists the active merchants' zones PostgreSQL knows.
SETTINGS_CTE = f"""
settings AS (
    SELECT m.id AS merchant_id, COALESCE(z.name, 'UTC') AS tz,
        {", ".join(f"COALESCE(d.{name}, %({name})s) AS {name}" for name in DELAY_SETTINGS)}
    FROM {Merchant._meta.db_table} m
    LEFT JOIN {DelaySettings._meta.db_table} d ON d.merchant_id = m.id
    LEFT JOIN unnest(%(zones)s::text[]) AS z(name) ON z.name = m.timezone
    WHERE m.is_active
)"""  # noqa: S608

# PostgreSQL's zone names, read at most this often: ``pg_timezone_names`` reads the zone files
# (some 50 ms), which every statement joining it paid; the names change only with the server's
# zone data.
ZONE_NAMES_TTL = 3600.0
_zone_names: list[tuple[float, frozenset[str]]] = []


def _postgres_zone_names() -> frozenset[str]:
    if not _zone_names or time.monotonic() - _zone_names[0][0] > ZONE_NAMES_TTL:
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM pg_timezone_names")
            _zone_names[:] = [(time.monotonic(), frozenset(row[0] for row in cursor.fetchall()))]
    return _zone_names[0][1]


_scan_zones: ContextVar[list[str] | None] = ContextVar("delay_scan_zones", default=None)


def zones_known() -> list[str]:
    """The active merchants' time zones that PostgreSQL knows (``SETTINGS_CTE``'s ``zones``):
    read once at the start of a scan, for each of its statements; else read now."""
    during_scan = _scan_zones.get()
    if during_scan is not None:
        return during_scan
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT timezone FROM {Merchant._meta.db_table} WHERE is_active"  # noqa: S608
        )
        names = {row[0] for row in cursor.fetchall()}
    return sorted(names & _postgres_zone_names())


def _zone(name: str) -> ZoneInfo:
    """The merchant's zone, or UTC for a name this Python does not know (as the SQL does)."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return ZoneInfo("UTC")


def days_later(moment: str, days: str) -> str:
    """SQL: the same wall-clock time ``days`` calendar days after ``moment``, in ``st.tz``."""
    return f"((({moment}) AT TIME ZONE st.tz) + make_interval(days => {days})) AT TIME ZONE st.tz"


# When the carrier last said anything: status_changed_at follows every newer dated checkpoint
# (orders.services.shipments._apply_status), so no checkpoint is newer than it; a shipment with
# only undated statements falls back to when it moved, then to when it reached us.
LAST_SCAN = "COALESCE(sh.status_changed_at, sh.shipped_at, sh.created_at)"
# The latest day the shopper was told (the end of the range shown, orders/estimates.py; the
# carrier's own date where no range was kept), and the merchant's midnight that ends it.
LATEST_PROMISED = "COALESCE(sh.estimate_latest, sh.estimated_delivery)"
AFTER_ESTIMATE = f"(({LATEST_PROMISED} + 1)::timestamp AT TIME ZONE st.tz)"


@dataclass(frozen=True)
class ShipmentRule:
    reason: str
    statuses: tuple[str, ...]
    since: str  # SQL: when the incident began
    delayed_at: str  # SQL: when it becomes a delay (``since`` for those that are one at once)
    condition: str = "TRUE"
    # SQL, the scan's only: a bound every delay of the rule meets, without converting each
    # parcel's times to the merchant's zone (``within_days``), so the statement converts only
    # the few parcels near or past their threshold instead of every parcel on its way.
    prefilter: str = "TRUE"


# How far a time ``days`` calendar days later in a zone can be from ``days`` * 24 hours later:
# by the zone's change of UTC offset in between, which is at most 26 hours (-12:00 to +14:00).
# A whole day more on top of that, as margin.
ZONE_SLACK_DAYS = 2


def within_days(moment: str, days: str) -> str:
    """SQL: a bound ``days_later(moment, days) <= now`` implies: ``moment`` is at most ``days``
    less ``ZONE_SLACK_DAYS`` days before now, in plain instants."""
    return f"{moment} <= %(now)s - make_interval(days => {days} - {ZONE_SLACK_DAYS})"


SHIPMENT_RULES = (
    ShipmentRule(
        DelayReason.NO_FIRST_SCAN,
        (S.PENDING, S.INFO_RECEIVED),
        since="sh.created_at",  # the fulfilment: when its shipment reached us
        delayed_at=days_later("sh.created_at", "st.first_scan_days"),
        prefilter=within_days("sh.created_at", "st.first_scan_days"),
    ),
    ShipmentRule(
        DelayReason.NO_SCAN_IN_TRANSIT,
        (S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.FAILED_ATTEMPT),
        since=LAST_SCAN,
        delayed_at=days_later(LAST_SCAN, "st.transit_scan_days"),
        prefilter=within_days(LAST_SCAN, "st.transit_scan_days"),
    ),
    ShipmentRule(
        DelayReason.PAST_ESTIMATED_DELIVERY,
        OPEN,
        since=AFTER_ESTIMATE,
        delayed_at=AFTER_ESTIMATE,
        condition=f"{LATEST_PROMISED} IS NOT NULL",
        # the merchant's midnight after the day is at least 10 hours before that day ends in
        # UTC (offsets reach +14:00): a day after today's UTC date has not ended anywhere
        prefilter=f"{LATEST_PROMISED} <= (%(now)s AT TIME ZONE 'UTC')::date + 1",
    ),
    ShipmentRule(
        DelayReason.EXCEPTION,
        (S.EXCEPTION,),
        since="COALESCE(sh.status_changed_at, sh.created_at)",
        delayed_at="COALESCE(sh.status_changed_at, sh.created_at)",
    ),
)
EXPIRED_RULE = ShipmentRule(
    DelayReason.EXPIRED,
    OPEN,
    since=LAST_SCAN,
    delayed_at=days_later(LAST_SCAN, "st.expired_days"),
    prefilter=within_days(LAST_SCAN, "st.expired_days"),
)

# Shipments moved to expired per scan, at most (each goes through the shipments' status path).
EXPIRE_BATCH = 500

INCIDENT_COLUMNS = "merchant_id, order_id, shipment_id, reason, since, delayed_at, detected_at"
RETURNING = "RETURNING id, merchant_id, order_id, shipment_id, since, delayed_at"


def _shipment_statement(rule: ShipmentRule, *, expiring: bool) -> str:
    """One statement: the incidents of ``rule`` across every active merchant. A shipment silent
    for longer than the expired threshold is the expired rule's, not a delay's (``expiring``
    turns that around, and takes at most ``%(limit)s``, merchants in turn: each one's first
    shipment, then each one's second, so one merchant's backlog never holds up another's)."""
    silent = f"{days_later(LAST_SCAN, 'st.expired_days')} <= %(now)s"
    stale = silent if expiring else f"NOT ({silent})"
    turn = "row_number() OVER (PARTITION BY sh.merchant_id ORDER BY sh.id)" if expiring else "1"
    return f"""
WITH {SETTINGS_CTE},
found AS (
    SELECT sh.merchant_id, sh.order_id, sh.id AS shipment_id,
        {rule.since} AS since, {rule.delayed_at} AS delayed_at, {turn} AS turn
    FROM {Shipment._meta.db_table} sh
    JOIN settings st ON st.merchant_id = sh.merchant_id
    WHERE sh.status = ANY(%(statuses)s) AND ({rule.condition}) AND ({rule.prefilter})
        AND {stale}
)
INSERT INTO {DelayIncident._meta.db_table} ({INCIDENT_COLUMNS})
SELECT f.merchant_id, f.order_id, f.shipment_id, %(reason)s, f.since, f.delayed_at, %(now)s
FROM found f
WHERE f.delayed_at <= %(now)s AND NOT EXISTS (
    SELECT 1 FROM {DelayIncident._meta.db_table} i
    WHERE i.merchant_id = f.merchant_id AND i.shipment_id = f.shipment_id
        AND i.reason = %(reason)s AND i.since = f.since
) AND NOT EXISTS (
    SELECT 1 FROM {Order._meta.db_table} o
    WHERE o.id = f.order_id AND o.merchant_id = f.merchant_id AND o.cancelled_at IS NOT NULL
)
ORDER BY f.turn, f.merchant_id, f.shipment_id
{"LIMIT %(limit)s" if expiring else ""}
ON CONFLICT DO NOTHING
{RETURNING}"""  # noqa: S608


# The last day the promise allows: the order's day in the merchant's zone (a weekend day counts
# from the Friday before it) plus the promised business days, weekends skipped.
ORDER_DAY = "(o.placed_at AT TIME ZONE st.tz)::date"
WEEKDAY = f"EXTRACT(ISODOW FROM {ORDER_DAY})::int"
FROM_WEEKDAY = f"({ORDER_DAY} - GREATEST({WEEKDAY} - 5, 0))"
PROMISED_BY = (
    f"({FROM_WEEKDAY} + (st.fulfillment_promise_days / 5) * 7"
    " + MOD(st.fulfillment_promise_days, 5)"
    f" + CASE WHEN LEAST({WEEKDAY}, 5) + MOD(st.fulfillment_promise_days, 5) > 5"
    " THEN 2 ELSE 0 END)"
)

ORDER_STATEMENT = f"""
WITH {SETTINGS_CTE},
found AS (
    SELECT o.merchant_id, o.id AS order_id,
        (({PROMISED_BY} + 1)::timestamp AT TIME ZONE st.tz) AS since
    FROM {Order._meta.db_table} o
    JOIN settings st ON st.merchant_id = o.merchant_id
    WHERE o.fulfillment_status = ANY(%(statuses)s) AND o.cancelled_at IS NULL
        AND {days_later("o.placed_at", "st.expired_days")} > %(now)s
)
INSERT INTO {DelayIncident._meta.db_table} ({INCIDENT_COLUMNS})
SELECT f.merchant_id, f.order_id, NULL, %(reason)s, f.since, f.since, %(now)s
FROM found f
WHERE f.since <= %(now)s AND NOT EXISTS (
    SELECT 1 FROM {DelayIncident._meta.db_table} i
    WHERE i.merchant_id = f.merchant_id AND i.order_id = f.order_id AND i.shipment_id IS NULL
        AND i.reason = %(reason)s AND i.since = f.since
)
ORDER BY f.merchant_id, f.order_id
ON CONFLICT DO NOTHING
{RETURNING}"""  # noqa: S608


@dataclass(frozen=True)
class Incident:
    id: int
    merchant_id: int
    order_id: int
    shipment_id: int | None
    since: datetime
    delayed_at: datetime


def _insert(sql: str, params: dict) -> list[Incident]:
    defaults = {name: default for name, (default, _, _) in DELAY_SETTINGS.items()}
    with connection.cursor() as cursor:
        cursor.execute(sql, {**defaults, "zones": zones_known(), **params})
        return [Incident(*row) for row in cursor.fetchall()]


def _days(since: datetime, now: datetime, zone: ZoneInfo) -> int:
    return (now.astimezone(zone).date() - since.astimezone(zone).date()).days


def _record(merchants: dict[int, Merchant], specs: list[tuple[int, EventSpec]], now) -> int:
    by_merchant: dict[int, list[EventSpec]] = defaultdict(list)
    for merchant_id, spec in specs:
        by_merchant[merchant_id].append(spec)
    recorded = 0
    for merchant_id, merchant_specs in by_merchant.items():
        ids = event_record_many(merchant=merchants[merchant_id], events=merchant_specs, now=now)
        recorded += sum(1 for pk in ids if pk is not None)
    return recorded


@dataclass(frozen=True, slots=True)
class _PayloadOrder:
    pk: int
    external_id: str
    number: str
    customer_id: int | None


@dataclass(frozen=True, slots=True)
class _PayloadShipment:
    """What ``shipment_event_payload`` reads of a shipment and its order."""

    pk: int
    external_id: str
    carrier: str
    tracking_number: str
    tracking_url: str
    status: str
    substatus: str
    estimated_delivery: date | None
    order: _PayloadOrder


def _parcels(ids: list[int]) -> dict[int, _PayloadShipment]:
    """The shipments ``ids`` with their orders, as much of them as the event's payload needs,
    read as plain rows: the first scan after install (or after a backlog) raises thousands of
    incidents at once, and loading each shipment and order as models cost a third of it."""
    sql = (
        "SELECT s.id, s.external_id, s.carrier, s.tracking_number, s.tracking_url, s.status, "  # noqa: S608
        "s.substatus, s.estimated_delivery, o.id, o.external_id, o.number, o.customer_id "
        f"FROM {rows.table(Shipment)} s JOIN {rows.table(Order)} o "
        "ON o.id = s.order_id AND o.merchant_id = s.merchant_id WHERE s.id = ANY(%s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids])
        return {
            row[0]: _PayloadShipment(*row[:8], order=_PayloadOrder(*row[8:]))
            for row in cursor.fetchall()
        }


def _shipments_delayed(rule: ShipmentRule, now: datetime) -> int:
    """Raise ``shipment.delayed`` for ``rule``'s new incidents; how many events were recorded."""
    with transaction.atomic():
        found = _insert(
            _shipment_statement(rule, expiring=False),
            {"statuses": list(rule.statuses), "reason": rule.reason.value, "now": now},
        )
        if not found:
            return 0
        shipments = _parcels([incident.shipment_id for incident in found])
        merchants = Merchant.objects.in_bulk({incident.merchant_id for incident in found})
        specs = []
        for incident in found:
            shipment = shipments[incident.shipment_id]
            zone = _zone(merchants[incident.merchant_id].timezone)
            payload = {
                **shipment_event_payload(shipment, shipment.order),
                "reason": rule.reason.value,
                "since": incident.since.isoformat(),
                "days": _days(incident.since, now, zone),
            }
            key = f"{events.SHIPMENT_DELAYED}:{shipment.external_id}:{rule.reason.value}:"
            specs.append(
                (
                    incident.merchant_id,
                    EventSpec(
                        type=events.SHIPMENT_DELAYED,
                        customer_id=shipment.order.customer_id,
                        payload=payload,
                        occurred_at=incident.delayed_at,
                        dedupe_key=key + incident.since.isoformat(),
                        source="tracking",
                    ),
                )
            )
        return _record(merchants, specs, now)


def _orders_delayed(now: datetime) -> int:
    """Raise ``order.fulfillment_delayed`` for orders past the promise; how many were recorded."""
    reason = DelayReason.FULFILLMENT_LATE.value
    statuses = [FulfillmentStatus.UNFULFILLED.value, FulfillmentStatus.PARTIALLY_FULFILLED.value]
    with transaction.atomic():
        found = _insert(ORDER_STATEMENT, {"statuses": statuses, "reason": reason, "now": now})
        if not found:
            return 0
        orders = Order.unscoped.in_bulk([incident.order_id for incident in found])
        lines: dict[int, list[OrderLine]] = defaultdict(list)
        for line in (
            OrderLine.unscoped.filter(order_id__in=orders)
            .select_related("product")
            .order_by("order_id", "position", "id")
        ):
            lines[line.order_id].append(line)
        merchants = Merchant.objects.in_bulk({incident.merchant_id for incident in found})
        specs = []
        for incident in found:
            order = orders[incident.order_id]
            zone = _zone(merchants[incident.merchant_id].timezone)
            payload = {
                **order_event_payload(order, lines[order.pk]),
                "reason": reason,
                "fulfillment_status": order.fulfillment_status,
                "promised_by": (
                    incident.since.astimezone(zone).date() - timedelta(days=1)
                ).isoformat(),
                "since": incident.since.isoformat(),
                "days": _days(incident.since, now, zone),
            }
            specs.append(
                (
                    incident.merchant_id,
                    EventSpec(
                        type=events.ORDER_FULFILLMENT_DELAYED,
                        customer_id=order.customer_id,
                        payload=payload,
                        occurred_at=incident.since,
                        dedupe_key=(
                            f"{events.ORDER_FULFILLMENT_DELAYED}:{order.external_id}:"
                            f"{incident.since.isoformat()}"
                        ),
                        source="tracking",
                    ),
                )
            )
        return _record(merchants, specs, now)


def _shipments_expire(now: datetime, limit: int) -> int:
    """Move shipments silent for the expired threshold to ``expired`` through the shipments'
    own status path (``shipment_ingest``: forward only, ``shipment.expired`` recorded), dated
    when the threshold passed, so a scan the carrier sends later than that still applies. The
    incident row makes each expiry happen once; the status path runs per shipment, at most
    ``limit`` per scan (the rest wait for the next one): expiries are rare after the first
    scan, and the path's rules and event are worth one call each."""
    with transaction.atomic():
        found = _insert(
            _shipment_statement(EXPIRED_RULE, expiring=True),
            {
                "statuses": list(EXPIRED_RULE.statuses),
                "reason": EXPIRED_RULE.reason.value,
                "now": now,
                "limit": limit,
            },
        )
        if not found:
            return 0
        shipments = Shipment.unscoped.select_related("order").in_bulk(
            [incident.shipment_id for incident in found]
        )
        merchants = Merchant.objects.in_bulk({incident.merchant_id for incident in found})
        expired = 0
        for incident in found:
            shipment = shipments[incident.shipment_id]
            try:
                result = shipment_ingest(
                    merchant=merchants[incident.merchant_id],
                    payload={
                        "external_id": shipment.external_id,
                        "order_external_id": shipment.order.external_id,
                        "status": ShipmentStatus.EXPIRED.value,
                        "status_at": incident.delayed_at.isoformat(),
                    },
                    now=now,
                )
            except DomainError as error:
                # Its own savepoint rolled back; the incident stays, so it is not tried again.
                logger.warning("shipment %s not expired: %s", shipment.pk, error)
                continue
            expired += events.SHIPMENT_EXPIRED in result.events
        return expired


@dataclass(frozen=True)
class ScanResult:
    """Events recorded by one scan, by reason (``expired``: shipments moved to expired), and
    the open incidents it resolved, by kind (``tracking.resolution.RESOLVES``)."""

    counts: dict[str, int]
    resolved: dict[str, int] = field(default_factory=dict)


_skipped: list[bool] = []


def _skip_once() -> None:
    if not _skipped:
        _skipped.append(True)
        logger.info(
            "Delay detection needs PostgreSQL; on %s the scan does nothing (docs/tracking.md)",
            connection.vendor,
        )


def delays_scan(*, now: datetime | None = None, expire_limit: int | None = None) -> ScanResult:
    """Run every delay rule once over every active merchant (the beat entry ``tracking-delays``
    calls it hourly). Each rule is one transaction: its incidents and their events. Then the
    open incidents whose condition no longer holds are resolved (``tracking/resolution.py``),
    after the expiries, so an expired shipment's other incidents end in the same scan.

    PostgreSQL only: the rules count days in each merchant's time zone inside the database,
    which SQLite cannot. The embedded mode (SQLite) skips the scan and says so once a process;
    docs/tracking.md tells its users delay detection needs PostgreSQL."""
    if connection.vendor != "postgresql":
        _skip_once()
        return ScanResult(counts={})
    now = now or timezone.now()
    if expire_limit is None:
        expire_limit = EXPIRE_BATCH
    # Here rather than at the top: resolution reads this module's rules.
    from tracking.resolution import incidents_resolve

    scan = _scan_zones.set(zones_known())
    try:
        counts = {rule.reason.value: _shipments_delayed(rule, now) for rule in SHIPMENT_RULES}
        counts[DelayReason.FULFILLMENT_LATE.value] = _orders_delayed(now)
        counts[DelayReason.EXPIRED.value] = _shipments_expire(now, expire_limit)
        resolved = incidents_resolve(now=now)
    finally:
        _scan_zones.reset(scan)
    if any(counts.values()) or any(resolved.values()):
        logger.info("delay scan at %s: %s, resolved %s", now.isoformat(), counts, resolved)
    return ScanResult(counts=counts, resolved=resolved)
