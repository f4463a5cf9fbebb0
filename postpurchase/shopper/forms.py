"""The order lookup's form: what the shopper typed, checked for shape only (the finder decides
whether it names an order).

The shopper types one thing besides the number: the email address they ordered with, or the
postal code the order ships to (a gift's recipient knows the postcode, not the buyer's email).
Text with an ``@`` is read as an email address, anything else as a postal code."""

from __future__ import annotations

import re

from django import forms
from django.core.validators import validate_email

# Letters, digits, spaces and hyphens, as postcodes are written the world over (K1A 0B1,
# 12345-6789, 100-0001, SW1A 1AA); at most 20 characters, the length an order's address holds.
POSTAL_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{0,19}$")


class OrderLookupForm(forms.Form):
    number = forms.CharField(
        label="Order number",
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    contact = forms.CharField(
        label="Email or postal code",
        max_length=254,
        help_text="The email address you ordered with, or the postal code it ships to.",
        widget=forms.TextInput(attrs={"autocomplete": "email", "autocapitalize": "none"}),
    )
    # Where the found order is sent (a destination's name, e.g. "returns"); any other text: the
    # default destination, never an error the shopper could not see or fix.
    destination = forms.CharField(required=False, max_length=50, widget=forms.HiddenInput)

    def clean_destination(self) -> str:
        return self.cleaned_data["destination"].strip()

    def clean(self) -> dict:
        """``email`` or ``postal_code`` from ``contact`` (the other one empty)."""
        cleaned = super().clean()
        contact = cleaned.get("contact", "")
        cleaned["email"], cleaned["postal_code"] = "", ""
        if not contact:
            return cleaned
        if "@" in contact:
            try:
                validate_email(contact)
            except forms.ValidationError:
                self.add_error("contact", "Enter a valid email address.")
            else:
                cleaned["email"] = contact
        elif POSTAL_CODE.match(contact):
            cleaned["postal_code"] = contact
        else:
            self.add_error("contact", "Enter an email address or a postal code.")
        return cleaned
