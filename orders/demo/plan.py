"""Turning a seed and an anchor date into the demo's ingestion payloads (pure: no database)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import accumulate
from zoneinfo import ZoneInfo

import phonenumbers
from django.utils.text import slugify

from orders.demo.data import (
    CANCEL_REASONS,
    CARRIERS,
    CATALOGUE,
    DEMO_SEED,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    IN_SEASON,
    INTERESTS,
    LAST_NAMES,
    MERCHANT_ATTRIBUTES,
    MOST_ORDERS,
    PLACES,
    SKU_PREFIX,
    SMALL_PARCEL,
    STORE_TZ,
    STORE_URL,
    STREETS,
    WINDOW_DAYS,
    ZIP_PREFIXES,
)
from orders.demo.parcels import ensure_every_state, plan_parcels
from orders.demo.shapes import (
    DemoPlan,
    OrderPlan,
    ParcelPlan,
    Person,
    cents,
    iso,
    local_time,
    minutes,
)


def demo_cutoff(anchor: date) -> datetime:
    """Everything in the demo happens before midnight starting ``anchor`` in the store's zone."""
    return datetime.combine(anchor, time(), STORE_TZ)


# --- catalogue and people -------------------------------------------------------------------


def _catalogue() -> list[dict]:
    products = []
    for number, (category, title, price, popularity) in enumerate(CATALOGUE, start=1):
        products.append(
            {
                "external_id": f"demo-prod-{number:03d}",
                "sku": f"DO-{SKU_PREFIX[category]}-{number:03d}",
                "title": title,
                "category": category,
                "price": price,
                "url": f"{STORE_URL}/products/{slugify(title)}",
                "popularity": popularity,
            }
        )
    return products


def _valid(number: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(number))


def _phone(rng: random.Random, area_code: str, used: set[str]) -> str:
    candidates = [f"+1{area_code}555{rng.randrange(100, 200):04d}" for _ in range(20)]
    candidates += [f"+1{area_code}555{rng.randrange(1000, 10000):04d}" for _ in range(20)]
    candidates += [
        f"+1{area_code}{rng.randrange(201, 1000)}{rng.randrange(10000):04d}" for _ in range(40)
    ]
    for number in candidates:
        if number not in used and _valid(number):
            used.add(number)
            return number
    return ""


def _email(rng: random.Random, first: str, last: str, used: set[str]) -> str:
    first, last = (("".join(c for c in n.lower() if c.isalpha())) for n in (first, last))
    local = rng.choice(
        (f"{first}.{last}", f"{first}{last[0]}", f"{first[0]}{last}", f"{first}_{last}")
    )
    domain = rng.choices(EMAIL_DOMAINS, weights=(6, 3, 2))[0]
    email, suffix = f"{local}@{domain}", 1
    while email in used:
        suffix += 1
        email = f"{local}{suffix}@{domain}"
    used.add(email)
    return email


def _people(rng: random.Random, count: int) -> list[Person]:
    emails: set[str] = set()
    phones: set[str] = set()
    people = []
    for _ in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        place = rng.choices(PLACES, weights=[p.weight for p in PLACES])[0]
        phone = _phone(rng, place.area_code, phones) if rng.random() < 0.72 else ""
        birthday = None
        if rng.random() < 0.35:
            birthday = date(rng.randint(1958, 2005), 1, 1) + timedelta(days=rng.randrange(365))
        people.append(
            Person(
                first_name=first,
                last_name=last,
                email=_email(rng, first, last, emails),
                phone=phone,
                place=place,
                interests=rng.sample(sorted(INTERESTS), k=rng.choice((0, 1, 1, 2))),
                birthday=birthday,
                accepts_email=rng.random() < 0.58,
                accepts_sms=(rng.random() < 0.35) if phone else None,
                locale="es-US" if rng.random() < 0.07 else "en-US",
            )
        )
    return people


# --- how often and when people buy -----------------------------------------------------------


def _repeat_weights(mean: float, most: int) -> list[float]:
    """Geometric weights over 2..most whose mean is ``mean`` (found by bisection)."""
    low, high = 1e-6, 50.0
    for _ in range(80):
        ratio = (low + high) / 2
        weights = [ratio**k for k in range(most - 1)]
        average = sum((k + 2) * w for k, w in enumerate(weights)) / sum(weights)
        low, high = (ratio, high) if average < mean else (low, ratio)
    return [low**k for k in range(most - 1)]


def demo_order_counts(
    rng: random.Random, customers: int, orders: int, *, once: float = 0.6, most: int = MOST_ORDERS
) -> list[int]:
    """Orders per customer summing to exactly ``orders``: ``once`` of them buy once, the rest
    follow a geometric long tail up to ``most`` orders."""
    if orders <= customers:
        counts = [1] * orders + [0] * (customers - orders)
        rng.shuffle(counts)
        return counts
    if orders > customers * most:
        raise ValueError(f"{orders} orders need at least {-(-orders // most)} customers.")
    ones = min(round(customers * once), customers - 1)
    ones = max(ones, 0, customers - (orders - customers))  # every repeat buyer has 2 or more
    while orders - ones > (customers - ones) * most:
        ones -= 1
    repeaters = customers - ones
    weights = _repeat_weights((orders - ones) / repeaters, most)
    counts = rng.choices(range(2, most + 1), weights=weights, k=repeaters)
    while (gap := orders - ones - sum(counts)) != 0:
        index = rng.randrange(repeaters)
        if gap > 0 and counts[index] < most:
            counts[index] += 1
        elif gap < 0 and counts[index] > 2:
            counts[index] -= 1
    counts += [1] * ones
    rng.shuffle(counts)
    return counts


def _black_friday_weekend(day: date) -> bool:
    november = date(day.year, 11, 1)
    thanksgiving = november + timedelta(days=(3 - november.weekday()) % 7 + 21)
    return 1 <= (day - thanksgiving).days <= 4


def _day_weights(first_day: date) -> list[float]:
    """Steady growth, an outdoor retailer's seasons, weekends, and the Black Friday weekend."""
    season = (0.8, 0.7, 0.9, 1.0, 1.1, 1.2, 1.1, 1.0, 0.9, 1.0, 1.5, 1.6)
    weights = []
    for offset in range(WINDOW_DAYS):
        day = first_day + timedelta(days=offset)
        weight = (0.6 + 0.8 * offset / WINDOW_DAYS) * season[day.month - 1]
        weight *= 1.2 if day.weekday() in (5, 6) else 1.0
        weight *= 2.5 if _black_friday_weekend(day) else 1.0
        weights.append(weight)
    return weights


# How often people order at each local hour of the day, midnight first.
HOUR_WEIGHTS = (3, 2, 1, 1, 1, 2, 5, 8, 10, 12, 13, 14,
                16, 15, 13, 12, 12, 13, 15, 18, 20, 19, 14, 8)  # fmt: skip


def _order_times(rng, person: Person, count: int, first_day: date, cumulative, cutoff):
    tz = ZoneInfo(person.place.timezone)
    offsets: set[int] = set()
    while len(offsets) < count:
        offsets.add(rng.choices(range(WINDOW_DAYS), cum_weights=cumulative)[0])
    times = []
    for offset in sorted(offsets):
        hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0] + rng.random()
        placed = local_time(first_day + timedelta(days=offset), hour, tz)
        times.append(placed - timedelta(days=1) if placed >= cutoff else placed)
    return times


# --- orders ---------------------------------------------------------------------------------


def _pick_products(rng, products: list[dict], person: Person, when: datetime) -> list[dict]:
    favourites = {INTERESTS[i] for i in person.interests}
    weights = [
        p["popularity"]
        * (1.8 if when.month in IN_SEASON.get(p["category"], ()) else 1.0)
        * (2.0 if p["category"] in favourites else 1.0)
        for p in products
    ]
    wanted = rng.choices((1, 2, 3, 4), weights=(52, 28, 13, 7))[0]
    chosen: list[dict] = []
    while len(chosen) < wanted:
        product = rng.choices(products, weights=weights)[0]
        if product not in chosen:
            chosen.append(product)
    return chosen


def _order_plan(rng, products, person: Person, when: datetime, number: int, first: bool):
    external_id = f"demo-ord-{number:05d}"
    lines = []
    for position, product in enumerate(_pick_products(rng, products, person, when), start=1):
        quantity = rng.choices((1, 2, 3), weights=(5, 3, 1))[0]
        if product["category"] not in SMALL_PARCEL:
            quantity = 1 if rng.random() < 0.94 else 2
        lines.append((f"{external_id}-{position}", product, quantity))
    subtotal = sum(Decimal(p["price"]) * q for _, p, q in lines)
    store_day = when.astimezone(STORE_TZ).date()
    rate = Decimal(0)
    if _black_friday_weekend(store_day) and rng.random() < 0.7:
        rate = Decimal("0.20")
    elif first and rng.random() < 0.25:
        rate = Decimal("0.10")  # the welcome code from the newsletter pop-up
    elif rng.random() < 0.07:
        rate = Decimal("0.15")
    discount = cents(subtotal * rate)
    expedited = rng.random() < 0.1
    net = subtotal - discount
    shipping = Decimal("19.95") if expedited else Decimal(0 if net >= 75 else "7.95")
    return OrderPlan(
        external_id=external_id,
        number=f"#{number}",
        person=person,
        placed_at=when,
        lines=lines,
        subtotal=subtotal,
        discount=discount,
        shipping=shipping,
        tax=cents(net * Decimal(person.place.tax_rate)),
        expedited=expedited,
        source="mobile_app" if rng.random() < 0.15 else "web",
    )


def _cancel(rng, order: OrderPlan, cutoff: datetime) -> None:
    order.cancelled_at = min(
        order.placed_at + minutes(rng.uniform(0.3, 18)),
        order.placed_at + (cutoff - order.placed_at) / 2,
    ).replace(microsecond=0)
    order.cancel_reason = rng.choices(list(CANCEL_REASONS), weights=CANCEL_REASONS.values())[0]


# --- parcels --------------------------------------------------------------------------------


def _customer_payload(person: Person) -> dict:
    tags = set(person.interests)
    if len(person.orders) >= 8:
        tags.add("vip")
    if person.accepts_email:
        tags.add("newsletter")
    payload = {
        "external_id": person.external_id,
        "email": person.email,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "timezone": person.place.timezone,
        "locale": person.locale,
        "tags": sorted(tags),
        "accepts_email_marketing": person.accepts_email,
        "consent_source": "checkout",
        "consent_updated_at": iso(person.joined_at),
    }
    if person.phone:
        payload |= {"phone": person.phone, "accepts_sms_marketing": person.accepts_sms}
    if person.birthday:
        payload["birthday"] = person.birthday.isoformat()
    return payload


def _shipping_address(person: Person) -> dict:
    """Where a shopper's orders ship: a street and a ZIP code in their city. Drawn from a
    generator of the shopper's own (seeded by their email), so the plan's other draws, and so
    its figures, are the same as before addresses were added."""
    rng = random.Random(f"address:{person.email}")
    return {
        "name": f"{person.first_name} {person.last_name}",
        "address1": f"{rng.randint(1, 2999)} {rng.choice(STREETS)}",
        "city": person.place.city,
        "province_code": person.place.state,
        "postal_code": f"{ZIP_PREFIXES[person.place.area_code]}{rng.randint(1, 99):02d}",
        "country_code": "US",
        "phone": person.phone,
    }


def _order_payload(order: OrderPlan) -> dict:
    shipped: Counter[str] = Counter()
    for parcel in order.parcels:
        for external_id, quantity in parcel.lines if parcel.checkpoints else ():
            shipped[external_id] += quantity
    fulfillment = "unfulfilled"
    if shipped:
        complete = all(shipped[external_id] >= q for external_id, _, q in order.lines)
        fulfillment = "fulfilled" if complete else "partially_fulfilled"
    changes = [order.placed_at, order.cancelled_at]
    changes += [parcel.checkpoints[0].at for parcel in order.parcels if parcel.checkpoints]
    payload = {
        "external_id": order.external_id,
        "number": order.number,
        "customer_external_id": order.person.external_id,
        "placed_at": iso(order.placed_at),
        "currency": MERCHANT_ATTRIBUTES["currency"],
        "subtotal": str(order.subtotal),
        "discount": str(order.discount),
        "shipping": str(order.shipping),
        "tax": str(order.tax),
        "total": str(order.subtotal - order.discount + order.shipping + order.tax),
        "financial_status": "paid",
        "fulfillment_status": fulfillment,
        "source": order.source,
        "updated_at": iso(max(at for at in changes if at is not None)),
        "shipping_address": _shipping_address(order.person),
        "lines": [
            {
                "external_id": external_id,
                "product_external_id": product["external_id"],
                "title": product["title"],
                "sku": product["sku"],
                "quantity": quantity,
                "unit_price": product["price"],
            }
            for external_id, product, quantity in order.lines
        ],
    }
    if order.cancelled_at is not None:
        voided = order.cancel_reason in ("fraud", "declined")
        payload |= {
            "cancelled_at": iso(order.cancelled_at),
            "cancel_reason": order.cancel_reason,
            "financial_status": "voided" if voided else "refunded",
        }
    return payload


def _shipment_payload(order: OrderPlan, parcel: ParcelPlan) -> dict:
    return {
        "external_id": parcel.external_id,
        "order_external_id": order.external_id,
        "carrier": parcel.carrier,
        "tracking_number": parcel.tracking_number,
        "tracking_url": CARRIERS[parcel.carrier].format(parcel.tracking_number),
        "estimated_delivery": parcel.eta.isoformat() if parcel.eta else None,
        "lines": [{"line_external_id": e, "quantity": q} for e, q in parcel.lines],
        "checkpoints": [
            {
                "status": point.status,
                "occurred_at": iso(point.at),
                "description": point.description,
                "location": point.location,
            }
            for point in parcel.checkpoints
        ],
    }


def _schedule(rng, people: list[Person], counts: list[int], anchor: date) -> None:
    """When each person orders and first appeared; numbers them in the order they appeared."""
    cutoff = demo_cutoff(anchor)
    first_day = anchor - timedelta(days=WINDOW_DAYS)
    window_start = cutoff - timedelta(days=WINDOW_DAYS)
    cumulative = list(accumulate(_day_weights(first_day)))
    for person, count in zip(people, counts, strict=True):
        person.orders = _order_times(rng, person, count, first_day, cumulative, cutoff)
        if person.orders:  # the account is made at the first checkout
            seen = person.orders[0] - minutes(rng.uniform(0.05, 0.5))
        else:
            seen = window_start + (cutoff - window_start) * rng.random()
        person.joined_at = max(seen, window_start).replace(second=0, microsecond=0)
    people.sort(key=lambda person: (person.joined_at, person.email))
    for number, person in enumerate(people, start=1):
        person.external_id = f"demo-cust-{number:04d}"


def demo_plan(
    *, anchor: date, seed: int = DEMO_SEED, customers: int = 500, orders: int = 1500
) -> DemoPlan:
    """The demo store's year up to ``anchor``: the same payloads for the same arguments."""
    rng = random.Random(seed)
    cutoff = demo_cutoff(anchor)
    products = _catalogue()
    people = _people(rng, customers)
    _schedule(rng, people, demo_order_counts(rng, customers, orders), anchor)
    placements = sorted(
        ((when, person) for person in people for when in person.orders),
        key=lambda pair: (pair[0], pair[1].external_id),
    )
    plans = []
    for number, (when, person) in enumerate(placements, start=1001):
        plan = _order_plan(rng, products, person, when, number, when == person.orders[0])
        if rng.random() < 0.03:
            _cancel(rng, plan, cutoff)
        plans.append(plan)
    if len(plans) > 1 and not any(plan.cancelled_at for plan in plans):
        _cancel(rng, plans[len(plans) // 2], cutoff)
    tracking_numbers: set[str] = set()
    for plan in plans:
        plan_parcels(rng, plan, cutoff, tracking_numbers)
    ensure_every_state(rng, plans, cutoff, anchor)

    return DemoPlan(
        products=[{k: v for k, v in p.items() if k != "popularity"} for p in products],
        customers=[(p.joined_at, _customer_payload(p)) for p in people],
        orders=[
            (
                _order_payload(plan),
                [_shipment_payload(plan, p) for p in plan.parcels if p.checkpoints],
            )
            for plan in plans
        ],
    )
