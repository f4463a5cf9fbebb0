"""Shared serializer base for the API's output."""

from __future__ import annotations

import copy

from rest_framework import serializers


class CachedModelSerializer(serializers.ModelSerializer):
    """A ``ModelSerializer`` that maps its model's fields once per class instead of once per
    response: building the fields from the model is most of a small response's serialisation
    time. Only for read-only output serializers whose fields do not depend on the context."""

    def get_fields(self):
        cls = type(self)
        cached = cls.__dict__.get("_mapped_fields")
        if cached is None:
            cached = super().get_fields()
            cls._mapped_fields = cached
        return copy.deepcopy(cached)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only: DRF's field also reads 0, 1, "yes" and "on", which the schema
    (type boolean) does not offer."""

    def to_internal_value(self, data):
        if data is True or data is False:
            return data
        self.fail("invalid", input=data)


class StrictCharField(serializers.CharField):
    """JSON text only: DRF's field also turns numbers into text, which the schema (type string)
    does not offer."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
