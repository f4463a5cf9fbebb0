"""The order lookup's form: what the shopper typed, checked for shape only (the finder decides
whether it names an order)."""

from __future__ import annotations

from django import forms


class OrderLookupForm(forms.Form):
    number = forms.CharField(
        label="Order number",
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        help_text="The address you used when you ordered.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    # Where the found order is sent (a destination's name, e.g. "returns"); any other text: the
    # default destination, never an error the shopper could not see or fix.
    destination = forms.CharField(required=False, max_length=50, widget=forms.HiddenInput)

    def clean_destination(self) -> str:
        return self.cleaned_data["destination"].strip()
