"""The tracking pillar's writes: a merchant's delay settings (the scan: ``tracking/delays.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, create_model

from postpurchase.errors import DomainError, ErrorCode
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import parse_payload
from tracking.models import DELAY_SETTINGS, DelaySettings


class _DelaySettingsBase(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# Every field optional (a change names only what it changes), each within its range.
DelaySettingsIn = create_model(
    "DelaySettingsIn",
    __base__=_DelaySettingsBase,
    **{
        name: (int | None, Field(None, ge=low, le=high))
        for name, (_, low, high) in DELAY_SETTINGS.items()
    },
)


def delay_settings_get(*, merchant: Merchant) -> DelaySettings:
    """The merchant's delay settings, created with the defaults when it has none."""
    settings, _ = DelaySettings.unscoped.get_or_create(merchant=merchant)
    return settings


def delay_settings_update(
    *, merchant: Merchant, values: dict[str, Any], now: datetime | None = None
) -> DelaySettings:
    """Change some of the merchant's delay settings. A value out of its range, of another type,
    or a field that does not exist is refused naming the field; so is an expired threshold that
    would not leave room for the in-transit one (a shipment must be able to be late before it
    expires)."""
    data = parse_payload(DelaySettingsIn, values)
    changes = {name: value for name, value in data.model_dump().items() if value is not None}
    with transaction.atomic():
        delay_settings_get(merchant=merchant)
        settings = DelaySettings.unscoped.select_for_update().get(merchant=merchant)
        for name, value in changes.items():
            setattr(settings, name, value)
        for name in ("first_scan_days", "transit_scan_days"):
            if settings.expired_days <= getattr(settings, name):
                field = "expired_days" if "expired_days" in changes else name
                raise DomainError(
                    ErrorCode.INVALID,
                    f"{field}: expired_days ({settings.expired_days}) must be greater than "
                    f"{name} ({getattr(settings, name)}).",
                    field=field,
                )
        settings.updated_at = now or timezone.now()
        settings.save()
        return settings
