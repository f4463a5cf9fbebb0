"""Delay incidents' open/resolved state: the hourly scan (``tracking.delays.delays_scan``) ends by
resolving every open incident whose condition no longer holds (docs/tracking.md, "Delay state
and resolution").

An incident is resolved when the rule that raised it would no longer find it: its shipment left
the rule's statuses or its ``since`` moved (the carrier scanned it again: ``moved``; a later
delivery date was given: ``re_estimated``), its shipment reached an end (``delivered``,
``returned``, ``expired``), its order was fulfilled or left the rule's window (``fulfilled``,
``expired``) or was cancelled (``cancelled``). Set-based, as the scan: one ``UPDATE`` per kind
over every active merchant, never a loop over shipments. A resolved incident stays, with when and
why; its key keeps the scan from raising it again, and the same parcel stalling anew is a new
incident with a new ``since``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from orders import events
from orders.models import FulfillmentStatus, Order, Shipment, ShipmentStatus
from orders.services.shipments import SHIPMENT_STATUS_EVENTS
from postpurchase.events.models import Event
from postpurchase.tenancy.models import Merchant
from tracking.delays import (
    DELAY_SETTINGS,
    DONE,
    EXPIRED_RULE,
    SETTINGS_CTE,
    SHIPMENT_RULES,
    ShipmentRule,
    days_later,
    zones_known,
)
from tracking.models import DelayIncident, DelayReason, DelayResolution

S = ShipmentStatus
INCIDENTS = DelayIncident._meta.db_table
UNFULFILLED = (FulfillmentStatus.UNFULFILLED.value, FulfillmentStatus.PARTIALLY_FULFILLED.value)


@dataclass(frozen=True)
class Resolve:
    """One kind of resolution: which open incidents (``reasons``; every reason when empty), the
    rows they are joined to (``FROM`` and its join to ``i``), the condition that resolves them,
    and why (SQL: a parameter, or a ``CASE`` over the row)."""

    name: str
    joins: str
    condition: str
    resolution: str
    reasons: tuple[str, ...] = ()
    # Whether the condition reads the merchant's zone or thresholds (``st``): only those join
    # the scan's settings, whose zone check reads PostgreSQL's zone list (tens of ms a time).
    zoned: bool = False


MERCHANTS = Merchant._meta.db_table


def _join(table: str, alias: str, key: str, *, zoned: bool) -> str:
    """``FROM`` the incident's shipment or order, of an active merchant (with its settings when
    ``zoned``)."""
    merchant = (
        f"JOIN settings st ON st.merchant_id = {alias}.merchant_id"
        if zoned
        else f"JOIN {MERCHANTS} m ON m.id = {alias}.merchant_id AND m.is_active"
    )
    return (
        f"{table} {alias} {merchant}"
        f" WHERE i.{key} = {alias}.id AND i.merchant_id = {alias}.merchant_id"
    )


SHIPMENT_JOIN = _join(Shipment._meta.db_table, "sh", "shipment_id", zoned=False)
ORDER_JOIN = _join(Order._meta.db_table, "o", "order_id", zoned=False)
ZONED_SHIPMENT_JOIN = _join(Shipment._meta.db_table, "sh", "shipment_id", zoned=True)
ZONED_ORDER_JOIN = _join(Order._meta.db_table, "o", "order_id", zoned=True)
NOT_DONE = "sh.status <> ALL(%(done)s)"


def _left(rule: ShipmentRule) -> str:
    """SQL: ``rule`` would no longer find this incident (the shipment left its statuses or its
    condition, or the moment the incident began is another one now)."""
    return (
        f"NOT (sh.status = ANY(%(statuses_{rule.reason.value})s) AND ({rule.condition}) "
        f"AND ({rule.since}) = i.since)"
    )


def _moved(rule: ShipmentRule) -> Resolve:
    estimated = rule.reason == DelayReason.PAST_ESTIMATED_DELIVERY
    why = DelayResolution.RE_ESTIMATED if estimated else DelayResolution.MOVED
    return Resolve(
        name=rule.reason.value,
        joins=ZONED_SHIPMENT_JOIN if estimated else SHIPMENT_JOIN,
        condition=f"{NOT_DONE} AND {_left(rule)}",
        resolution=f"'{why.value}'",
        reasons=(rule.reason.value,),
        zoned=estimated,  # the day after the estimate ends at the merchant's midnight
    )


# In this order: a cancelled order's incidents say so, whatever else holds; an ended shipment's
# say how it ended; only then is an incident of a parcel still on its way "moved".
RESOLVES: tuple[Resolve, ...] = (
    Resolve(
        name="cancelled",
        joins=ORDER_JOIN,
        condition="o.cancelled_at IS NOT NULL",
        resolution=f"'{DelayResolution.CANCELLED.value}'",
    ),
    Resolve(
        # An expired shipment's own incident (reason ``expired``) stays open while it is expired:
        # a parcel silent that long is the one a shopper asks about.
        name="ended",
        joins=SHIPMENT_JOIN,
        condition=(
            f"sh.status = ANY(%(done)s) AND NOT (i.reason = '{DelayReason.EXPIRED.value}' "
            f"AND sh.status = '{S.EXPIRED.value}')"
        ),
        resolution=(
            f"CASE sh.status WHEN '{S.DELIVERED.value}' THEN '{DelayResolution.DELIVERED.value}'"
            f" WHEN '{S.RETURNED_TO_SENDER.value}' THEN '{DelayResolution.RETURNED.value}'"
            f" ELSE '{DelayResolution.EXPIRED.value}' END"
        ),
    ),
    *(_moved(rule) for rule in SHIPMENT_RULES),
    Resolve(
        # Scanned again after it expired (a feed can move it on); ended ones are "ended" above.
        name=EXPIRED_RULE.reason.value,
        joins=SHIPMENT_JOIN,
        condition=f"{NOT_DONE}",
        resolution=f"'{DelayResolution.MOVED.value}'",
        reasons=(DelayReason.EXPIRED.value,),
    ),
    Resolve(
        name="fulfilled",
        joins=ORDER_JOIN,
        condition="o.fulfillment_status <> ALL(%(unfulfilled)s)",
        resolution=f"'{DelayResolution.FULFILLED.value}'",
        reasons=(DelayReason.FULFILLMENT_LATE.value,),
    ),
    Resolve(
        # Past the window the order rule looks in (docs/tracking.md, "Rules").
        name="order_expired",
        joins=ZONED_ORDER_JOIN,
        condition=f"{days_later('o.placed_at', 'st.expired_days')} <= %(now)s",
        resolution=f"'{DelayResolution.EXPIRED.value}'",
        reasons=(DelayReason.FULFILLMENT_LATE.value,),
        zoned=True,
    ),
)


# The status path's narrowing: one merchant's incidents of the shipments and orders at hand.
NARROWED = (
    "AND i.merchant_id = %(merchant_id)s AND (i.shipment_id = ANY(%(shipment_ids)s) "
    "OR i.order_id = ANY(%(order_ids)s))"
)


def _statement(resolve: Resolve, *, narrowed: bool = False) -> str:
    reasons = "AND i.reason = ANY(%(reasons)s)" if resolve.reasons else ""
    return f"""
{f"WITH {SETTINGS_CTE}" if resolve.zoned else ""}
UPDATE {INCIDENTS} i SET resolved_at = %(now)s, resolution = {resolve.resolution}
FROM {resolve.joins}
    AND i.resolved_at IS NULL {reasons} {NARROWED if narrowed else ""}
    AND ({resolve.condition})"""  # noqa: S608


def _params(resolve: Resolve, now: datetime) -> dict:
    params = {
        **{name: default for name, (default, _, _) in DELAY_SETTINGS.items()},
        "now": now,
        "done": [status.value for status in DONE],
        "unfulfilled": list(UNFULFILLED),
        "reasons": list(resolve.reasons),
        "zones": zones_known() if resolve.zoned else [],
    }
    for rule in SHIPMENT_RULES:
        params[f"statuses_{rule.reason.value}"] = [str(status) for status in rule.statuses]
    return params


def incidents_resolve(*, now: datetime) -> dict[str, int]:
    """Resolve the open incidents whose condition no longer holds, as of ``now``; how many of
    each kind (``RESOLVES``' names). One transaction, one statement per kind."""
    resolved = {}
    with transaction.atomic(), connection.cursor() as cursor:
        for resolve in RESOLVES:
            cursor.execute(_statement(resolve), _params(resolve, now))
            resolved[resolve.name] = cursor.rowcount
    return resolved


# --- on the status path ---------------------------------------------------------------------

# A new status of a shipment, or its order cancelled or fulfilled: what may end an incident at
# once. (A scan in the same status records no event; the hourly scan resolves that one.)
RESOLVE_CONSUMER = "tracking.delays_resolve"
RESOLVING_EVENTS = tuple(
    sorted({*SHIPMENT_STATUS_EVENTS.values(), events.ORDER_CANCELLED, events.ORDER_FULFILLED})
)


def _ids(batch: list[Event], key: str) -> list[int]:
    payloads = [event.payload for event in batch if isinstance(event.payload, dict)]
    values = {payload.get(key) for payload in payloads}
    return sorted(v for v in values if isinstance(v, int) and not isinstance(v, bool))


def incidents_resolve_on_events(batch: list[Event]) -> None:
    """The event consumer ``tracking.delays_resolve`` (one merchant's events, in one
    transaction): resolve at once the open incidents of the shipments and orders these events
    are about, by the kinds that need no time zone (the two that do wait for the hourly scan).
    A few index probes per batch, however many events it holds."""
    if not batch:
        return
    params = {
        "merchant_id": batch[0].merchant_id,
        "shipment_ids": _ids(batch, "shipment_id"),
        "order_ids": _ids(batch, "order_id"),
    }
    now = timezone.now()
    with connection.cursor() as cursor:
        for resolve in RESOLVES:
            if not resolve.zoned:
                cursor.execute(
                    _statement(resolve, narrowed=True), {**_params(resolve, now), **params}
                )


def incidents_resolve_on_event(event: Event) -> None:
    incidents_resolve_on_events([event])
