"""Filter fields shared by the API's list endpoints."""

from __future__ import annotations

from datetime import UTC, datetime

import django_filters as filters
from django import forms

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class _UtcDateTimeField(filters.fields.IsoDateTimeField):
    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if not EARLIEST <= moment < LATEST:
            raise forms.ValidationError(
                "must be between the years 1900 and 2199", code="out_of_range"
            )
        # PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 (and Python) allow.
        return moment.astimezone(UTC)


class DateTimeFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 time (UTC when it has no offset), 1900 to 2199."""

    field_class = _UtcDateTimeField
