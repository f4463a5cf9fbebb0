"""The event type the store feeds record of their own: ``shop.redacted``, when Shopify asks us
to erase a shop's data (48 hours after the app is uninstalled). The orders, refunds and
customers these feeds bring in are recorded as ``orders``' types (``orders/events.py``)."""

from __future__ import annotations

from pydantic import Field

from postpurchase.events.catalogue import Payload, event_type_register

OWNER = "connectors"

SHOP_REDACTED = "shop.redacted"


class ShopRedactedPayload(Payload):
    customers: int = Field(description="how many customers' personal data was erased")


def events_register() -> None:
    """Declare the types above (``ConnectorsConfig.ready()``). ``shop.*`` stays open to custom
    events; only this one name is the platform's."""
    event_type_register(
        name=SHOP_REDACTED,
        label="A shop's data was erased (Shopify's shop/redact)",
        payload=ShopRedactedPayload,
        owner=OWNER,
        description="Shopify asked us to erase a shop's data, after the app was uninstalled: "
        "its Shopify customers were erased and the connection switched off. No customer.",
    )
