"""``manage.py seed_demo``: the demo merchant, its owner and a year of data, run small."""

from __future__ import annotations

import hashlib
import io
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from orders.demo import demo_order_counts, demo_plan
from orders.models import Customer, Order, OrderLine, Product, Shipment, TrackingEvent
from orders.selectors import order_for_lookup
from postpurchase.events.models import Event
from postpurchase.tenancy.models import Membership, Merchant, User
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import MerchantFactory
from tracking.delays import delays_scan
from tracking.models import DelayIncident

pytestmark = pytest.mark.django_db

ANCHOR = date(2026, 6, 1)
CUTOFF = datetime(2026, 6, 1, tzinfo=ZoneInfo("America/New_York"))
SMALL = ("--customers=20", "--orders=60", "--today=2026-06-01", "--no-progress")
TINY = ("--customers=3", "--orders=6", "--today=2026-06-01", "--no-progress")


def seed_demo(*arguments: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *(arguments or SMALL), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def demo_merchant() -> Merchant:
    return Merchant.objects.get(slug="demo")


def tallies() -> dict[str, int]:
    with merchant_scope(demo_merchant()):
        return {
            "customers": Customer.objects.count(),
            "products": Product.objects.count(),
            "orders": Order.objects.count(),
            "lines": OrderLine.objects.count(),
            "shipments": Shipment.objects.count(),
            "checkpoints": TrackingEvent.objects.count(),
            "events": Event.objects.count(),
        }


def digest() -> str:
    with merchant_scope(demo_merchant()):
        orders = Order.objects.order_by("external_id").values_list(
            "external_id", "number", "customer__external_id", "placed_at", "total"
        )
        shipments = Shipment.objects.order_by("external_id").values_list(
            "external_id", "tracking_number", "status", "estimated_delivery"
        )
        text = repr([(o[0], o[1], o[2], o[3].isoformat(), str(o[4])) for o in orders])
        text += repr(list(shipments))
    return hashlib.sha256(text.encode()).hexdigest()


def seed_and_forget(*arguments: str) -> str:
    """Seed inside a savepoint, take the digest, and roll everything back."""
    with transaction.atomic():
        seed_demo(*arguments)
        result = digest()
        transaction.set_rollback(True)
    return result


def test_seed_demo_creates_the_demo_merchant_and_its_owner(settings):
    # given
    settings.SITE_URL = "https://pp.example"

    # when
    output = seed_demo(*TINY)

    # then
    merchant = demo_merchant()
    assert (merchant.name, merchant.timezone, merchant.currency, merchant.country) == (
        "Demo Outfitters",
        "America/New_York",
        "USD",
        "US",
    )
    assert (merchant.sender_name, merchant.sender_email, merchant.support_email) == (
        "Demo Outfitters",
        "hello@demo-outfitters.example",
        "support@demo-outfitters.example",
    )
    owner = User.objects.get(email="demo@example.com")
    assert owner.check_password("demo-outfitters")
    assert list(Membership.objects.values_list("user__email", "merchant__slug", "role")) == [
        ("demo@example.com", "demo", "owner")
    ]
    assert "URL:      https://pp.example/app/" in output
    assert "Email:    demo@example.com" in output
    assert "Password: demo-outfitters" in output
    assert "Message templates: 15 defaults installed." in output


def test_seed_demo_creates_exactly_the_customers_and_orders_asked_for():
    # when
    seed_demo()

    # then
    assert tallies() | {"lines": 0, "shipments": 0, "checkpoints": 0, "events": 0} == {
        "customers": 20,
        "products": 40,
        "orders": 60,
        "lines": 0,
        "shipments": 0,
        "checkpoints": 0,
        "events": 0,
    }
    with merchant_scope(demo_merchant()):
        assert Event.objects.filter(type="order.placed").count() == 60
        assert Customer.objects.filter(external_id="demo-cust-0001").exists()
        assert Order.objects.filter(external_id="demo-ord-01001", number="#1001").exists()


def test_seed_demo_run_again_changes_nothing():
    # given
    seed_demo()
    before, data_before = tallies(), digest()

    # when
    output = seed_demo()

    # then
    assert tallies() == before
    assert digest() == data_before
    assert "0 records created or changed, 0 events recorded (as history" in output
    assert "Message templates: 0 defaults installed." in output


def test_seed_demo_same_seed_gives_the_same_data():
    # when
    first = seed_and_forget(*SMALL, "--seed=7")
    second = seed_and_forget(*SMALL, "--seed=7")

    # then
    assert first == second


def test_seed_demo_run_again_keeps_the_owner_password_unless_one_is_given():
    # given
    seed_demo(*TINY, "--password=first-secret")

    # when
    output = seed_demo(*TINY)

    # then
    owner = User.objects.get(email="demo@example.com")
    assert owner.check_password("first-secret")
    assert "Password: (unchanged; pass --password to set one)" in output

    # when
    output = seed_demo(*TINY, "--password=second-secret")

    # then
    owner.refresh_from_db()
    assert owner.check_password("second-secret")
    assert "Password: second-secret" in output


def test_seed_demo_most_customers_buy_once_and_some_come_back_often():
    # when
    seed_demo()

    # then
    with merchant_scope(demo_merchant()):
        per_customer = Counter(Order.objects.values_list("customer__external_id", flat=True))
    assert len(per_customer) == 20
    assert sum(per_customer.values()) == 60
    assert sum(1 for n in per_customer.values() if n == 1) == 12  # 60 % of 20
    assert sum(1 for n in per_customer.values() if n >= 3) >= 4
    assert max(per_customer.values()) <= 20


def test_seed_demo_shows_every_shipment_status_a_delay_and_a_cancellation():
    # when: the demo is loaded and the delay scan runs on its day
    seed_demo()
    delays_scan(now=CUTOFF)

    # then: a parcel in transit is late for its estimate (the home page's delayed shipments)
    with merchant_scope(demo_merchant()):
        statuses = set(Shipment.objects.values_list("status", flat=True))
        late_in_transit = DelayIncident.objects.filter(
            reason="past_estimated_delivery",
            resolved_at__isnull=True,
            shipment__status="in_transit",
            shipment__estimated_delivery__lt=ANCHOR,
        )
        cancelled = Order.objects.filter(cancelled_at__isnull=False)
        assert statuses == {
            "info_received",
            "in_transit",
            "out_for_delivery",
            "delivered",
            "exception",
            "returned_to_sender",
        }
        assert late_in_transit.exists()
        assert cancelled.exists()
        assert not Shipment.objects.filter(order__in=cancelled).exists()
        assert set(cancelled.values_list("financial_status", flat=True)) <= {"refunded", "voided"}


def test_seed_demo_order_totals_add_up_to_the_cent():
    # when
    seed_demo()

    # then
    with merchant_scope(demo_merchant()):
        orders = list(Order.objects.prefetch_related("lines"))
    assert len(orders) == 60
    for order in orders:
        assert order.total == order.subtotal - order.discount + order.shipping + order.tax
        assert order.subtotal == sum(line.unit_price * line.quantity for line in order.lines.all())
        for amount in (order.subtotal, order.discount, order.shipping, order.tax, order.total):
            assert amount == amount.quantize(Decimal("0.01"))
        assert 1 <= len(order.lines.all()) <= 4


def test_seed_demo_dates_lie_in_the_twelve_months_before_the_anchor():
    # given
    start = CUTOFF - timedelta(days=365)

    # when
    seed_demo()

    # then
    with merchant_scope(demo_merchant()):
        moments = list(Order.objects.values_list("placed_at", flat=True))
        moments += Order.objects.exclude(cancelled_at=None).values_list("cancelled_at", flat=True)
        moments += TrackingEvent.objects.values_list("occurred_at", flat=True)
        moments += Event.objects.values_list("occurred_at", flat=True)
        moments += Customer.objects.values_list("created_at", flat=True)
    assert all(start <= moment < CUTOFF for moment in moments)


def test_seed_demo_without_today_ends_the_year_on_the_merchant_creation_date():
    # given
    MerchantFactory(
        slug="demo",
        name="Our Demo",
        timezone="America/New_York",
        currency="USD",
        country="US",
        created_at=datetime(2026, 1, 15, 20, 0, tzinfo=UTC),
    )
    end = datetime(2026, 1, 15, tzinfo=ZoneInfo("America/New_York"))

    # when
    seed_demo("--customers=3", "--orders=6", "--no-progress")

    # then
    assert demo_merchant().name == "Our Demo"
    with merchant_scope(demo_merchant()):
        placed = list(Order.objects.values_list("placed_at", flat=True))
    assert len(placed) == 6
    assert all(end - timedelta(days=365) <= moment < end for moment in placed)


def test_seed_demo_customers_have_valid_fictional_contact_details():
    # when
    seed_demo()

    # then
    with merchant_scope(demo_merchant()):
        customers = list(Customer.objects.all())
    phones = [c.phone for c in customers if c.phone]
    assert phones
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(phone)) for phone in phones)
    assert all(phone.startswith("+1") and len(phone) == 12 for phone in phones)
    assert len({c.email for c in customers}) == 20
    assert all(c.email.rsplit(".", 1)[0].endswith("@example") for c in customers)
    assert all(c.first_name and c.last_name and c.timezone for c in customers)
    assert 0 < sum(c.birthday is not None for c in customers) < 20
    assert 0 < sum(c.email_marketing_consent for c in customers) < 20
    assert not any(c.sms_marketing_consent and not c.phone for c in customers)


def test_seed_demo_orders_ship_to_the_shoppers_city_and_are_found_by_postcode():
    # when
    seed_demo(*TINY)

    # then: every order has an address in its shopper's name, a five-digit US ZIP
    with merchant_scope(demo_merchant()):
        orders = list(Order.objects.select_related("customer").order_by("external_id"))
        addresses = [order.shipping_address for order in orders]
        assert len(orders) == 6
        assert all(
            a["name"] == f"{o.customer.first_name} {o.customer.last_name}"
            and a["country_code"] == "US"
            and len(a["postal_code"]) == 5
            and a["postal_code"].isdigit()
            and a["city"]
            and a["address1"]
            for o, a in zip(orders, addresses, strict=True)
        )
        # one shopper, one address: their orders all ship to it
        by_customer = {}
        for order in orders:
            by_customer.setdefault(order.customer_id, set()).add(str(order.shipping_address))
        assert all(len(kept) == 1 for kept in by_customer.values())
        first = orders[0]
        postcode = first.shipping_address["postal_code"]
        assert order_for_lookup(number=first.number, postal_code=f" {postcode} ") == first.pk
        assert order_for_lookup(number=first.number, postal_code="00000") is None


def test_seed_demo_refuses_more_orders_than_its_customers_can_place():
    # when
    with pytest.raises(CommandError, match="100 orders need at least 5 customers"):
        seed_demo("--customers=2", "--orders=100", "--no-progress")

    # then
    assert not Merchant.objects.filter(slug="demo").exists()
    assert not User.objects.filter(email="demo@example.com").exists()


def test_demo_plan_is_the_same_for_the_same_seed():
    # when
    first = demo_plan(anchor=ANCHOR, seed=11, customers=12, orders=30)
    second = demo_plan(anchor=ANCHOR, seed=11, customers=12, orders=30)
    other = demo_plan(anchor=ANCHOR, seed=12, customers=12, orders=30)

    # then
    assert first == second
    assert other != first
    assert len(first.customers) == 12
    assert len(first.orders) == 30


@pytest.mark.parametrize(
    ("customers", "orders", "fewest"),
    [(500, 1500, 1), (40, 120, 1), (10, 10, 1), (10, 4, 0), (3, 60, 20), (1, 20, 20)],
)
def test_demo_order_counts_add_up_to_exactly_the_orders_asked_for(customers, orders, fewest):
    # when
    counts = demo_order_counts(random.Random(2026), customers, orders)

    # then
    assert len(counts) == customers
    assert sum(counts) == orders
    assert max(counts) <= 20
    assert min(counts) == fewest


def test_seed_demo_records_history_queues_no_dispatch_and_enters_no_journey(
    django_capture_on_commit_callbacks,
):
    # given: the demo merchant with the order confirmation journey live before the seed
    from journeys.blueprints import journey_blueprint_install
    from journeys.models import Enrollment
    from journeys.services import journey_publish
    from notifications.models import Message
    from orders.demo import demo_merchant_ensure
    from postpurchase.celery import app
    from postpurchase.events.models import EventConsumerRun
    from postpurchase.events.services import event_dispatch, event_sweep

    merchant, _ = demo_merchant_ensure()
    journey = journey_blueprint_install(merchant=merchant, key="order_confirmation")
    journey_publish(journey=journey)

    # when: seeded with Celery running in-process whatever is enqueued, as a worker would
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            seed_demo(*TINY)
    finally:
        app.conf.task_always_eager = False
    events = Event.unscoped.filter(merchant=merchant)
    first = events.filter(type="order.placed").order_by("occurred_at", "pk").first()
    # and one is dispatched by hand as if on the day it happened, and the sweep runs much later
    dispatched = event_dispatch(event=first, now=first.occurred_at)
    swept = event_sweep(now=datetime(2027, 6, 1, tzinfo=UTC))

    # then: every event is history, dispatched already, with nothing queued, nothing consumed
    assert events.count() == 31
    assert set(events.values_list("is_history", "next_dispatch_at", "dispatch_enqueues")) == {
        (True, None, 0)
    }
    assert not events.filter(dispatched_at__isnull=True).exists()
    assert callbacks == []
    assert (dispatched, swept) == ({}, [])
    assert EventConsumerRun.objects.filter(event__merchant=merchant).count() == 0
    assert Enrollment.unscoped.filter(merchant=merchant).count() == 0
    assert Message.unscoped.filter(merchant=merchant).count() == 0
