"""Forms of the orders pages: they validate the list's filters and nothing else."""

from __future__ import annotations

from django import forms

from orders.models import FulfillmentStatus

ORDER_STATUS_FILTERS = (
    ("", "All"),
    (FulfillmentStatus.UNFULFILLED, "Unfulfilled"),
    (FulfillmentStatus.PARTIALLY_FULFILLED, "Partially fulfilled"),
    (FulfillmentStatus.FULFILLED, "Fulfilled"),
    ("cancelled", "Cancelled"),
)


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(choices=ORDER_STATUS_FILTERS, required=False)
    q = forms.CharField(max_length=100, required=False, strip=True)
