"""One tracking page scenario (tracking/page_reads.py's plain SQL at work) and what the shopper
sees, read off the page's ``data-`` marks, so two databases can be compared.

``tests/tracking/test_page_reads.py`` runs it on the test's PostgreSQL database and on a fresh
SQLite file (the embedded mode) in a subprocess: ``python tests/tracking/page_scenario.py``
with ``DATABASE_URL=sqlite:///…`` migrates the file, runs the scenario and prints its outcome
as JSON.
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
MARKS = {
    "headline": r"<h1 data-headline>(.*?)</h1>",
    "arrival": r"data-arrival>(.*?)</p>",
    "checkpoints": (
        r'<p class="timeline__title">(.*?)</p>\s*<p>(.*?)</p>\s*<p class="muted">(.*?)</p>'
    ),
    "items": r"data-item><span>(.*?)</span>",
    "notice": r"data-notice>(.*?)</div>",
    "suggestions": r"data-suggestion>(.*?)</a>",
    "subscriptions": r"data-subscription>\s*<span>(.*?)</span>",
    "claim": r"data-claim-link>(.*?)</a>",
    "tabs": r"data-tab>(Parcel \d)",
}


def _seen(html: str) -> dict:
    return {
        name: [list(found) if isinstance(found, tuple) else found for found in matches]
        for name, pattern in MARKS.items()
        if (matches := re.findall(pattern, html, re.S)) is not None
    }


def run_scenario(merchant) -> dict:
    """An order of two lines split over two parcels: the first in transit with three scans and
    an open delay, the second waiting for its first scan; a product bought with them; a live
    and a stopped subscription; protection offered. Returns what each parcel's page shows and
    the counts its views left."""
    from django.test import Client
    from django.utils import timezone

    from orders.models import Shipment, ShipmentLine, TrackingEvent
    from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory
    from tracking import counters
    from tracking.claims.models import ProtectionSettings
    from tracking.links import tracking_token
    from tracking.models import (
        DelayIncident,
        ProductPairing,
        ShipmentPageViews,
        SuggestionStats,
        TrackingSubscription,
    )

    real_now = timezone.now
    timezone.now = lambda: NOW
    try:
        customer = CustomerFactory(merchant=merchant, email="ada@example.net", timezone="")
        order = OrderFactory(
            merchant=merchant,
            customer=customer,
            number="#2001",
            currency="USD",
            shipping_address={"city": "Leeds", "country_code": "GB"},
            fulfillment_status="fulfilled",
            total=Decimal("75.00"),
        )
        shoe, lamp, sock = (
            ProductFactory(merchant=merchant, title=title, url=f"https://shop.example/{title}")
            for title in ("Trail shoe", "Desk lamp", "Wool socks")
        )
        shoes = OrderLineFactory(order=order, product=shoe, title="Trail shoe", quantity=2)
        lamps = OrderLineFactory(
            order=order, product=lamp, title="Desk lamp", quantity=1, position=1
        )
        for other, count in ((sock, 7), (lamp, 3)):
            ProductPairing.unscoped.create(
                merchant=merchant, product=shoe, other=other, orders=count, computed_at=NOW
            )
        first, second = (
            Shipment.unscoped.create(
                merchant=merchant,
                order=order,
                external_id=f"shp-{n}",
                carrier="UPS",
                tracking_number=f"1Z99{n}",
                status=status,
                status_changed_at=NOW - timedelta(days=5),
                created_at=NOW - timedelta(days=6, hours=-n),
                estimate_earliest=NOW.date() + timedelta(days=1),
                estimate_latest=NOW.date() + timedelta(days=3),
            )
            for n, status in ((1, "in_transit"), (2, "info_received"))
        )
        for shipment, line in ((first, shoes), (second, shoes), (second, lamps)):
            ShipmentLine.unscoped.create(
                merchant=merchant, shipment=shipment, order_line=line, quantity=1
            )
        for hours, where in ((150, "Leeds"), (130, "Manchester"), (121, "Birmingham")):
            TrackingEvent.unscoped.create(
                merchant=merchant,
                shipment=first,
                status="in_transit",
                description=f"Arrived at {where}",
                location=where,
                occurred_at=NOW - timedelta(hours=hours),
            )
        DelayIncident.unscoped.create(
            merchant=merchant,
            order=order,
            shipment=first,
            reason="no_scan_in_transit",
            since=NOW - timedelta(days=1),
            delayed_at=NOW - timedelta(days=1),
            detected_at=NOW - timedelta(days=1),
        )
        for address, stopped in (("+447700900123", None), ("+447700900999", NOW)):
            TrackingSubscription.unscoped.create(
                merchant=merchant,
                order=order,
                channel="sms",
                address=address,
                consent_text="Yes",
                source="tracking_page",
                consented_at=NOW,
                stopped_at=stopped,
            )
        ProtectionSettings.unscoped.create(
            merchant=merchant, offered=True, protection_products=["PROTECT"]
        )

        token = tracking_token(merchant_id=merchant.pk, order_id=order.pk)
        client, pages = Client(), {}
        for name, shipment in (("first", first), ("second", second)):
            response = client.get(f"/s/{merchant.slug}/track/{token}/?parcel={shipment.pk}")
            pages[name] = {"status": response.status_code, **_seen(response.content.decode())}
        counters.flush()  # the views wait in Redis until then (none without Redis: SQLite)
        views = dict(
            ShipmentPageViews.unscoped.filter(merchant=merchant).values_list(
                "shipment__external_id", "views"
            )
        )
        suggested = dict(
            SuggestionStats.unscoped.filter(merchant=merchant).values_list(
                "product__title", "views"
            )
        )
        return {"pages": pages, "views": views, "suggestion_views": suggested}
    finally:
        timezone.now = real_now


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from tests.factories import MerchantFactory

    call_command("migrate", verbosity=0)
    twin = MerchantFactory(
        slug="twin", name="Twin", currency="GBP", country="GB", timezone="Europe/London"
    )
    print(json.dumps(run_scenario(twin)))
