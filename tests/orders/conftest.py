"""The dashboard's fixtures (signed-in clients, an order with a shipment in each merchant), for
the orders pages that live in this app (``test_dashboard.py``)."""

from tests.dashboard.conftest import client_for, order_a, order_b  # noqa: F401
