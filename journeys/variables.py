"""Template variables a feature fills for a journey's sends, from the event that started the
journey: the claim a protection claim's messages are about, later a return's.

The built-in variables (the customer, the trigger's order and parcel, the merchant, the links)
come from ``notifications.context``. A feature that records its own events declares a variable
of its own with ``notifications.rendering.variable_register`` (its description and the sample
templates are checked against) and registers here, in its ``AppConfig.ready()``, the maker that
fills it: ``make(merchant=, event=, memo=)``, where ``event`` is the trigger's payload as the
enrollment keeps it. The maker answers plain data in the shape of the sample, or ``None`` when
the trigger is not about one of its rows (a claim variable in a journey started by an order):
the variable is then left out, and a template naming it outside ``{% if claim is defined %}``
fails on that send with the reason, as one naming a missing parcel does. The journeys core
imports no feature: it knows the names, never the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from notifications.rendering import VARIABLES, variables

# (merchant=, event=, memo=) → the variable's value (plain data), or None
VariableMaker = Callable[..., dict[str, Any] | None]


class VariableRegistry:
    def __init__(self) -> None:
        self._makers: dict[str, VariableMaker] = {}

    def register(self, name: str, make: VariableMaker) -> None:
        """Fill ``name`` with ``make``; the name must be a variable a feature declared
        (``variable_register``), not a built-in one (those the engine fills itself)."""
        if name in VARIABLES or name not in variables():
            raise ValueError(f"not a registered feature variable: {name!r}")
        self._makers[name] = make

    def unregister(self, name: str) -> None:
        self._makers.pop(name, None)

    def fill(self, *, merchant, event: dict[str, Any], memo) -> dict[str, Any]:
        """Each variable whose maker has one for this trigger, by name."""
        found = {}
        for name, make in sorted(self._makers.items()):
            value = make(merchant=merchant, event=event, memo=memo)
            if value is not None:
                found[name] = value
        return found


registry = VariableRegistry()
