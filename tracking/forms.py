"""Forms of the dashboard's Tracking page: they validate input and nothing else (the settings are
written by ``tracking.services.delay_settings_update``, which checks them again)."""

from __future__ import annotations

from django import forms

from tracking.models import DELAY_SETTINGS, DelayReason
from tracking.selectors import AGE_BUCKETS, SORTS


class AtRiskFilterForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[("", "All reasons"), *DelayReason.choices], required=False, label="Reason"
    )
    carrier = forms.CharField(max_length=100, required=False, label="Carrier")
    age = forms.ChoiceField(
        choices=[("", "Any age"), *((bucket.key, bucket.label) for bucket in AGE_BUCKETS)],
        required=False,
        label="Delayed for",
    )
    sort = forms.ChoiceField(choices=[(key, key) for key in SORTS], required=False)

    def filters(self) -> dict[str, str]:
        """The valid filters; none at all when any is invalid (a hand-edited address)."""
        if not self.is_valid():
            return {"reason": "", "carrier": "", "age": "", "sort": "age"}
        return {
            "reason": self.cleaned_data["reason"],
            "carrier": self.cleaned_data["carrier"],
            "age": self.cleaned_data["age"],
            "sort": self.cleaned_data["sort"] or "age",
        }


LABELS = {
    "first_scan_days": (
        "Days to the first carrier scan",
        "After the fulfilment, before a parcel the carrier has not scanned counts as delayed.",
    ),
    "transit_scan_days": (
        "Days without a scan in transit",
        "Once the carrier has the parcel, silence this long counts as delayed.",
    ),
    "fulfillment_promise_days": (
        "Business days to fulfil an order",
        "Your promise, Monday to Friday: an order not fulfilled by then counts as late.",
    ),
    "expired_days": (
        "Days before a silent shipment expires",
        "With no scan at all this long, the shipment is marked expired. More than the two scan "
        "thresholds above.",
    ),
}


def _setting_field(name: str) -> forms.IntegerField:
    _, low, high = DELAY_SETTINGS[name]
    label, help_text = LABELS[name]
    within = f"Enter a whole number from {low} to {high}."
    return forms.IntegerField(
        label=label,
        help_text=f"{help_text} From {low} to {high}.",
        min_value=low,
        max_value=high,
        error_messages={
            "required": within,
            "invalid": within,
            "min_value": within,
            "max_value": within,
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


class DelaySettingsForm(forms.Form):
    first_scan_days = _setting_field("first_scan_days")
    transit_scan_days = _setting_field("transit_scan_days")
    fulfillment_promise_days = _setting_field("fulfillment_promise_days")
    expired_days = _setting_field("expired_days")

    def clean(self):
        cleaned = super().clean()
        expired = cleaned.get("expired_days")
        if expired is None:
            return cleaned
        for name in ("first_scan_days", "transit_scan_days"):
            days = cleaned.get(name)
            if days is not None and expired <= days:
                self.add_error(
                    "expired_days",
                    f"Must be more than the {LABELS[name][0].lower()} ({days}): a shipment must "
                    "be able to be late before it expires.",
                )
                break
        return cleaned

    @classmethod
    def initial_for(cls, settings) -> dict[str, int]:
        return {name: getattr(settings, name) for name in DELAY_SETTINGS}
