"""The demo plan's shapes (shoppers, orders, parcels, the plan itself) and the small time and
money helpers every part of the plan uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from orders.demo.data import CENT, Place


@dataclass
class Person:
    first_name: str
    last_name: str
    email: str
    phone: str
    place: Place
    interests: list[str]
    birthday: date | None
    accepts_email: bool
    accepts_sms: bool | None
    locale: str
    orders: list[datetime] = field(default_factory=list)
    joined_at: datetime | None = None  # when the shopper first appeared
    external_id: str = ""


@dataclass
class Checkpoint:
    status: str
    at: datetime
    description: str
    location: str


@dataclass
class ParcelPlan:
    external_id: str
    carrier: str
    tracking_number: str
    promised_days: int
    lines: list[tuple[str, int]]
    checkpoints: list[Checkpoint] = field(default_factory=list)
    eta: date | None = None


@dataclass
class OrderPlan:
    external_id: str
    number: str
    person: Person
    placed_at: datetime
    lines: list[tuple[str, dict, int]]  # (line external id, product, quantity)
    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    tax: Decimal
    expedited: bool
    cancelled_at: datetime | None = None
    cancel_reason: str = ""
    source: str = "web"
    parcels: list[ParcelPlan] = field(default_factory=list)


@dataclass
class DemoPlan:
    """Ingestion payloads in the order they are loaded; ``customers`` pairs each payload with the
    time the shopper first appeared (their row's ``created_at``)."""

    products: list[dict]
    customers: list[tuple[datetime, dict]]
    orders: list[tuple[dict, list[dict]]]  # each order with its shipments


def minutes(hours: float) -> timedelta:
    return timedelta(minutes=round(hours * 60))


def local_time(day: date, hour: float, tz: ZoneInfo) -> datetime:
    return (datetime.combine(day, time(), tz) + minutes(hour)).astimezone(UTC)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
