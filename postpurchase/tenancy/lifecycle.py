"""What deactivating a merchant stops, registered by the apps whose work it is.

The core imports no app, so each app that holds a merchant's outgoing work (messages due a
send, journeys that would make more, webhook deliveries) registers a handler in its
``AppConfig.ready()``. ``merchant_deactivate`` calls every handler inside the transaction that
turns the merchant off, so a merchant is never inactive with its work half-stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from postpurchase.tenancy.models import Merchant

# Called with the merchant (its row locked) and the time; returns how many rows it stopped.
DeactivationHandler = Callable[..., int]


class DeactivationRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, DeactivationHandler] = {}

    def register(self, name: str, handler: DeactivationHandler) -> None:
        """Add ``handler`` under ``name`` (a second registration under a name replaces it, so
        ``ready()`` running twice registers once)."""
        self._handlers[name] = handler

    def run(self, *, merchant: Merchant, now: datetime) -> dict[str, int]:
        """Every handler, in the order they were registered: what each stopped, by name."""
        return {
            name: handler(merchant=merchant, now=now) for name, handler in self._handlers.items()
        }


deactivation_handlers = DeactivationRegistry()
