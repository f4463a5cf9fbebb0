"""A merchant's delay settings: created with the defaults, each change checked naming its field."""

from __future__ import annotations

import pytest

from postpurchase.errors import DomainError
from tracking.models import DelaySettings
from tracking.services import delay_settings_get, delay_settings_update


def values(settings: DelaySettings) -> tuple[int, int, int, int]:
    return (
        settings.first_scan_days,
        settings.transit_scan_days,
        settings.fulfillment_promise_days,
        settings.expired_days,
    )


def test_a_merchant_without_settings_gets_the_defaults(merchant_a):
    # when
    settings = delay_settings_get(merchant=merchant_a)

    # then
    assert values(settings) == (3, 5, 3, 30)
    assert delay_settings_get(merchant=merchant_a).pk == settings.pk


def test_a_change_keeps_the_other_settings(merchant_a, merchant_b):
    # when
    delay_settings_update(merchant=merchant_a, values={"transit_scan_days": 7, "expired_days": 45})

    # then: only that merchant's row changed
    assert values(delay_settings_get(merchant=merchant_a)) == (3, 7, 3, 45)
    assert values(delay_settings_get(merchant=merchant_b)) == (3, 5, 3, 30)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"first_scan_days": 0}, "first_scan_days"),
        ({"first_scan_days": 31}, "first_scan_days"),
        ({"transit_scan_days": -1}, "transit_scan_days"),
        ({"fulfillment_promise_days": 31}, "fulfillment_promise_days"),
        ({"expired_days": 6}, "expired_days"),
        ({"expired_days": 181}, "expired_days"),
        ({"expired_days": "30"}, "expired_days"),
        ({"first_scan_days": 2.5}, "first_scan_days"),
        ({"first_scan_days": True}, "first_scan_days"),
        ({"grace_days": 2}, "grace_days"),
        ({"expired_days": 8, "transit_scan_days": 8}, "expired_days"),
        ({"transit_scan_days": 30}, "transit_scan_days"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(merchant_a, change, field):
    # when
    with pytest.raises(DomainError) as refused:
        delay_settings_update(merchant=merchant_a, values=change)

    # then: the field is named, and nothing changed
    assert refused.value.code == "invalid"
    assert list(refused.value.fields) == [field]
    assert values(delay_settings_get(merchant=merchant_a)) == (3, 5, 3, 30)
