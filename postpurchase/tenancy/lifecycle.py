"""What the apps do at a merchant's turning points, registered by the apps whose work it is.

The core (and ``orders``, below the channels) imports no app that sits above it, so each app
that has a part in a turning point registers a handler in its ``AppConfig.ready()``:

- ``deactivation_handlers``: what deactivating a merchant stops (messages due a send, journeys
  that would make more, webhook deliveries). ``merchant_deactivate`` calls every handler inside
  the transaction that turns the merchant off, so a merchant is never inactive with its work
  half-stopped. Each handler returns how many rows it stopped.
- ``demo_seed_handlers``: what an app gives the demo merchant when ``manage.py seed_demo``
  creates or refreshes it (notifications: the default message templates). Called inside the
  command's transaction that ensures the merchant and its owner; each handler returns the line
  the command prints about it, and must be safe to run again.
- ``demo_loaded_handlers``: what an app works out from the demo's orders once they are loaded
  (tracking: the bought-together pairs its daily run would otherwise count a day later).
  Called after the load, outside the transaction above; same contract as above.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class HandlerRegistry:
    """Named handlers, run in the order they were registered."""

    def __init__(self) -> None:
        self._handlers: dict[str, Callable[..., Any]] = {}

    def register(self, name: str, handler: Callable[..., Any]) -> None:
        """Add ``handler`` under ``name`` (a second registration under a name replaces it, so
        ``ready()`` running twice registers once)."""
        self._handlers[name] = handler

    def run(self, **arguments: Any) -> dict[str, Any]:
        """Every handler with these keyword arguments: what each answered, by name."""
        return {name: handler(**arguments) for name, handler in self._handlers.items()}


# Called with merchant= (its row locked) and now=; returns how many rows it stopped.
DeactivationHandler = Callable[..., int]
# Called with merchant=; returns the line seed_demo prints about what it gave the merchant.
DemoSeedHandler = Callable[..., str]

deactivation_handlers = HandlerRegistry()
demo_seed_handlers = HandlerRegistry()
demo_loaded_handlers = HandlerRegistry()
