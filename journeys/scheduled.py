"""Entries that no event brings: a date of the customer's (a birthday, an order anniversary, N
days before or after one) and inactivity (N days since the last order).

Beat runs ``journeys_scheduled_entries`` every hour. For each live journey with such a trigger it
works out the merchant's today and asks the database only for the customers whose date falls on
it: a birthday by month and day, an order date by a range of one local day, and inactivity by
``last_order_at`` within the one local day that is exactly ``days`` ago (the ``merchant,
last_order_at`` index: customers are never scanned whole). Each entry is keyed by the day
(``date:2026-06-02``) or the inactivity period (``inactive:<last order's date>``), and a key enters
once, so the hourly runs, and two at once, enter a customer once. The first step runs at the
trigger's ``at`` time in the customer's zone.
"""

from __future__ import annotations

from calendar import isleap
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from journeys import schema
from journeys.conditions import all_hold
from journeys.engine import definition, zone_of
from journeys.facts import Subject, facts
from journeys.models import JourneyStatus, JourneyVersion
from journeys.services import enroll
from orders.models import Customer
from postpurchase.tenancy.models import Merchant

CHUNK = 500


def merchant_zone(merchant: Merchant) -> ZoneInfo:
    try:
        return ZoneInfo(merchant.timezone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def first_run(
    at: str, customer: Customer, merchant: Merchant, now: datetime, day: date | None = None
) -> datetime:
    """``at`` (``HH:MM``) on ``day`` (the merchant's day being entered; default the customer's
    today) in the customer's zone; now if that moment has passed. A customer west of the
    merchant is not reached the evening before its date."""
    zone = zone_of(customer, merchant)
    hour, minute = (int(part) for part in at.split(":"))
    day = day or now.astimezone(zone).date()
    start = datetime.combine(day, time(hour, minute), zone)
    return max(start, now)


def _same_day(field: str, target: date) -> Q:
    """``field``'s month and day are ``target``'s; on 28 February of a common year, 29 February
    too: a birthday or an order anniversary on a leap day is kept on the 28th."""
    same_day = Q(**{f"{field}__month": target.month, f"{field}__day": target.day})
    if target.month == 2 and target.day == 28 and not isleap(target.year):
        same_day |= Q(**{f"{field}__month": 2, f"{field}__day": 29})
    return same_day


def candidates(trigger: schema.Trigger, merchant: Merchant, today: date):
    """The merchant's customers whose date (or inactivity) falls on ``today``, and the key each
    enters under."""
    zone = merchant_zone(merchant)
    customers = Customer.unscoped.filter(merchant=merchant)
    if trigger.type == "inactivity":
        day = today - timedelta(days=trigger.days)
        found = customers.filter(
            last_order_at__gte=_midnight(day, zone),
            last_order_at__lt=_midnight(day + timedelta(days=1), zone),
        )
        return found, lambda c: f"inactive:{c.last_order_at.astimezone(zone).date().isoformat()}"
    target = today - timedelta(days=trigger.offset_days)
    name = trigger.date.split(".", 1)[1]
    if name == "birthday":
        if trigger.yearly:
            found = customers.filter(_same_day("birthday", target), birthday__lt=target)
        else:
            found = customers.filter(birthday=target)
    elif trigger.yearly:  # an anniversary of an order date, a year or more ago
        with timezone.override(zone):
            found = customers.filter(
                _same_day(name, target),
                **{f"{name}__lt": _midnight(target.replace(month=1, day=1), zone)},
            )
            found = list(found)  # evaluated under the merchant's zone
    else:
        found = customers.filter(
            **{
                f"{name}__gte": _midnight(target, zone),
                f"{name}__lt": _midnight(target + timedelta(days=1), zone),
            }
        )
    return found, lambda c: f"date:{today.isoformat()}"


def journeys_scheduled_entries(*, now: datetime | None = None) -> int:
    """Enter today's customers in every live date or inactivity journey. Returns how many."""
    now = now or timezone.now()
    versions = JourneyVersion.unscoped.filter(
        trigger_type__in=["date", "inactivity"],
        journey__status=JourneyStatus.LIVE,
        journey__live_version=F("pk"),
        merchant__is_active=True,
    ).select_related("journey", "merchant")
    entered = 0
    for version in versions:
        entered += _enter_for(version, now)
    return entered


def _enter_for(version: JourneyVersion, now: datetime) -> int:
    merchant = version.merchant
    plan = definition(version)
    trigger = plan.trigger
    today = now.astimezone(merchant_zone(merchant)).date()
    found, key_of = candidates(trigger, merchant, today)
    rows = list(found) if isinstance(found, list) else list(found.order_by("pk"))
    entered = 0
    paths = [condition.path for condition in trigger.conditions]
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        found = facts.gather(
            merchant=merchant, subjects=[Subject(customer) for customer in chunk], paths=paths
        )
        with transaction.atomic():
            for customer, known in zip(chunk, found, strict=True):
                if not all_hold(trigger.conditions, {"event": {}, **known}):
                    continue
                key = key_of(customer)
                enrollment = enroll(
                    merchant=merchant,
                    version=version,
                    plan=plan,
                    customer=customer,
                    key=key,
                    context={"event": {"type": trigger.type, "key": key}},
                    now=now,
                    detail=f"{trigger.type} {key}",
                    first_run_at=first_run(trigger.at, customer, merchant, now, today),
                    once_per_key=True,
                )
                entered += enrollment is not None
    return entered
