"""Which consumers handle which event types. Apps subscribe in ``AppConfig.ready()``:

    from postpurchase.events.registry import registry
    registry.subscribe("order.placed", "journeys.enter", journeys_handle_event)

A consumer is called as ``handler(event)`` inside a transaction with the merchant in scope. Its name
is stable: it keys the per-consumer marker, so renaming a consumer makes it run again.
A type of ``"*"`` subscribes to every event.

A consumer that can take many events at once also gives ``batch_handler(events)``: the events of one
merchant, in the order they were recorded, each new to this consumer, handed over in one
transaction with their markers. It does all of them or raises; when it raises, the dispatcher
rolls its work back and hands each event to ``handler`` alone, so one bad event costs only itself.
A retry (an event this consumer failed on before) always goes to ``handler`` alone. Where the order
of one customer's events matters, the batch handler keeps it (``journeys.consumer``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from postpurchase.events.models import Event

Handler = Callable[["Event"], None]
BatchHandler = Callable[[list["Event"]], None]


@dataclass(frozen=True)
class Consumer:
    name: str
    event_types: frozenset[str]
    handler: Handler
    batch_handler: BatchHandler | None = None

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


class ConsumerRegistry:
    def __init__(self) -> None:
        self._consumers: dict[str, Consumer] = {}

    def subscribe(
        self,
        event_types: str | list[str],
        name: str,
        handler: Handler,
        *,
        batch_handler: BatchHandler | None = None,
    ) -> Consumer:
        types = frozenset([event_types] if isinstance(event_types, str) else event_types)
        existing = self._consumers.get(name)
        if existing is not None and (
            existing.handler is not handler or existing.batch_handler is not batch_handler
        ):
            raise ValueError(f"A different consumer is already registered as {name!r}.")
        if existing is not None:
            types = types | existing.event_types
        consumer = Consumer(
            name=name, event_types=types, handler=handler, batch_handler=batch_handler
        )
        self._consumers[name] = consumer
        return consumer

    def unsubscribe(self, name: str) -> None:
        self._consumers.pop(name, None)

    def consumers_for(self, event_type: str) -> list[Consumer]:
        return [c for c in self._consumers.values() if c.wants(event_type)]

    def get(self, name: str) -> Consumer | None:
        return self._consumers.get(name)

    @contextmanager
    def temporarily(
        self,
        event_types: str | list[str],
        name: str,
        handler: Handler,
        *,
        batch_handler: BatchHandler | None = None,
    ) -> Iterator[Consumer]:
        """Subscribe for the duration of a block (tests, one-off replays)."""
        consumer = self.subscribe(event_types, name, handler, batch_handler=batch_handler)
        try:
            yield consumer
        finally:
            self.unsubscribe(name)


registry = ConsumerRegistry()
