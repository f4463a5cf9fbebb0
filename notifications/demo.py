"""What notifications gives the demo merchant when ``manage.py seed_demo`` runs: the default
message templates. Registered with ``postpurchase.tenancy.lifecycle.demo_seed_handlers`` in
``NotificationsConfig.ready()``, so the demo loader in ``orders`` does not import this app."""

from __future__ import annotations

from notifications.defaults import message_templates_install_defaults
from postpurchase.tenancy.models import Merchant


def demo_templates_install(*, merchant: Merchant) -> str:
    """Install the default templates the merchant lacks (safe to run again) and say how many."""
    created = message_templates_install_defaults(merchant=merchant)
    return f"Message templates: {len(created)} defaults installed."
