"""Filter fields shared by the API's list endpoints."""

from __future__ import annotations

from datetime import UTC, datetime

import django_filters as filters
from django import forms
from drf_spectacular.utils import extend_schema_field

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


@extend_schema_field(
    {
        "type": "string",
        "format": "date-time",
        "pattern": r"^(19|2[01])[0-9]{2}-",  # the years 1900 to 2199, as _UtcDateTimeField
    }
)
class DateTimeFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 time (UTC when it has no offset), 1900 to 2199."""

    field_class = _UtcDateTimeField


class ApiFilterSet(filters.FilterSet):
    """A list's query parameters. A parameter sent empty (``?updated_since=``) is refused with a
    400 naming it, except for text filters, where "" is a text: django-filter would otherwise
    drop it silently and answer as if it had not been sent."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, query_filter in self.filters.items():
            if isinstance(query_filter, filters.CharFilter) or self.data.get(name) != "":
                continue
            if name not in self.form.errors:
                self.form.add_error(name, forms.ValidationError("must not be empty", code="empty"))
            valid = False
        return valid


BIGINT_MAX = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": BIGINT_MAX})
class IdFilter(filters.NumberFilter):
    """One of our ids: a whole number that fits the id column."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(*args, **kwargs)
