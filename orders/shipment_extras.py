"""Fields other apps add to a shipment in the integrator API, filled for many shipments at once.

orders imports no pillar (the floors in pyproject.toml), yet a shipment's answer carries what a
pillar knows of it: the tracking pillar's open delay (``delay``). An app registers its fields, as
DRF serializer fields (they give the OpenAPI schema, nullability included), and one function
that fills them, in its ``AppConfig.ready()``::

    shipment_extras.register(
        ShipmentExtra(
            name="tracking",
            fields={"delay": ShipmentDelaySerializer(allow_null=True, read_only=True)},
            fill=shipments_delay,  # (merchant=, shipments=) -> {shipment_id: {"delay": {...}}}
        )
    )

The API's shipment serializer (``orders.serializers.ShipmentSerializer``) shows each registered
field after its own, and asks every ``fill`` once per answer (a page of shipments, the shipments
of a page of orders, one shipment), never once per shipment: ``attach`` puts the values on the
shipments as attributes of the fields' names, as a queryset annotation would. A shipment or a
field a ``fill`` leaves out shows ``null``, so every field must allow it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from orders.models import Shipment
from postpurchase.tenancy.models import Merchant

# (merchant=, shipments=) → {shipment id: {field name: value}}
Fill = Callable[..., Mapping[int, Mapping[str, Any]]]
ATTACHED = "api_extras_attached"  # set on a shipment once its fields are


@dataclass(frozen=True)
class ShipmentExtra:
    name: str
    fields: Mapping[str, serializers.Field]
    fill: Fill


class ShipmentExtras:
    def __init__(self) -> None:
        self._extras: dict[str, ShipmentExtra] = {}

    def register(self, extra: ShipmentExtra) -> None:
        """Add ``extra``; the same one again is a no-op. A field another extra gives, one that
        is a shipment's own attribute, or one that does not allow null is refused at start."""
        if self._extras.get(extra.name) == extra:
            return
        if extra.name in self._extras:
            raise ValueError(f"Shipment extras named {extra.name!r} are already registered.")
        taken = set(self.fields())
        for name, field in extra.fields.items():
            if name in taken or hasattr(Shipment, name) or name == ATTACHED:
                raise ValueError(f"The shipment field {name!r} is taken.")
            if not field.allow_null or not field.read_only:
                raise ValueError(f"The shipment field {name!r} must be read-only and nullable.")
        self._extras[extra.name] = extra

    def unregister(self, name: str) -> None:
        self._extras.pop(name, None)

    def fields(self) -> dict[str, serializers.Field]:
        """Every registered field by name, fresh copies (a serializer binds its own)."""
        return {
            name: copy.deepcopy(field)
            for extra in self._extras.values()
            for name, field in extra.fields.items()
        }

    def attach(self, *, merchant: Merchant, shipments: Iterable[Shipment]) -> None:
        """Fill every registered field of those ``shipments`` that are not filled yet: one call
        of each ``fill`` for all of them, whatever their number."""
        pending = [shipment for shipment in shipments if not hasattr(shipment, ATTACHED)]
        if not pending:
            return
        values: dict[int, dict[str, Any]] = {shipment.pk: {} for shipment in pending}
        for extra in self._extras.values():
            names = extra.fields.keys()
            for shipment_id, filled in extra.fill(merchant=merchant, shipments=pending).items():
                if shipment_id in values:
                    values[shipment_id].update(
                        {name: value for name, value in filled.items() if name in names}
                    )
        for shipment in pending:
            for extra in self._extras.values():
                for name in extra.fields:
                    setattr(shipment, name, values[shipment.pk].get(name))
            setattr(shipment, ATTACHED, True)


shipment_extras = ShipmentExtras()
