"""The demo store: a year of a made-up outdoor-apparel shop's customers, orders and parcels.

``demo_plan`` is pure: a seed and an anchor date give the same ingestion payloads every time, so
seeding again finds nothing changed. ``demo_load`` feeds those payloads to the ingestion services,
so the demo records its events (``order.placed``, ``shipment.*``) as production does, but as
history: dispatched already, so no journey enters and no webhook fires on a made-up past.

Contact details are fictional on purpose: emails on the reserved example.com/.net/.org domains and
phones in the 555-01xx range NANPA keeps for fiction (others only if ``phonenumbers`` rejects it).
"""

from orders.demo.data import DEMO_SEED, DEMO_SLUG, MOST_ORDERS, OWNER_EMAIL, OWNER_PASSWORD
from orders.demo.load import (
    DemoLoadReport,
    DemoOwner,
    demo_anchor,
    demo_load,
    demo_merchant_ensure,
    demo_owner_ensure,
)
from orders.demo.plan import DemoPlan, demo_cutoff, demo_order_counts, demo_plan

__all__ = [
    "DEMO_SEED",
    "DEMO_SLUG",
    "MOST_ORDERS",
    "OWNER_EMAIL",
    "OWNER_PASSWORD",
    "DemoLoadReport",
    "DemoOwner",
    "DemoPlan",
    "demo_anchor",
    "demo_cutoff",
    "demo_load",
    "demo_merchant_ensure",
    "demo_order_counts",
    "demo_owner_ensure",
    "demo_plan",
]
