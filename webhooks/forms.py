"""Dashboard forms for webhook endpoints: they gather input; the services validate it."""

from __future__ import annotations

from django import forms

from webhooks.event_types import ALL, known_event_types
from webhooks.models import WebhookEndpoint


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=2000,
        help_text="An https:// address on the public internet. Private and local addresses "
        "are refused, and redirects are not followed.",
        widget=forms.TextInput(
            attrs={"placeholder": "https://example.com/webhooks", "autocomplete": "off"}
        ),
    )
    description = forms.CharField(
        max_length=200, required=False, help_text="A note for your team, e.g. “ERP sync”."
    )
    all_events = forms.BooleanField(
        required=False, label="Every event, including ones added later", initial=True
    )
    event_types = forms.MultipleChoiceField(
        label="Events",
        # A callable: read from the event catalogue when a form is made, after every app
        # registered its types.
        choices=lambda: [(name, f"{name} — {label}") for name, label in known_event_types()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    custom_event_types = forms.CharField(
        label="Custom events",
        required=False,
        max_length=1000,
        help_text="Events your systems post through the API, separated by commas, e.g. "
        "product.setup_completed.",
    )

    @classmethod
    def for_endpoint(cls, endpoint: WebhookEndpoint, **kwargs) -> EndpointForm:
        known = {name for name, _ in known_event_types()}
        subscribed = endpoint.event_types
        initial = {
            "url": endpoint.url,
            "description": endpoint.description,
            "all_events": ALL in subscribed,
            "event_types": [t for t in subscribed if t in known],
            "custom_event_types": ", ".join(t for t in subscribed if t != ALL and t not in known),
        }
        return cls(initial=initial, **kwargs)

    def clean(self):
        cleaned = super().clean()
        custom = [t.strip() for t in cleaned.get("custom_event_types", "").split(",")]
        chosen = [*cleaned.get("event_types", []), *(t for t in custom if t)]
        if cleaned.get("all_events"):
            chosen = [ALL]
        if not chosen:
            self.add_error("event_types", "Choose at least one event, or every event.")
        cleaned["chosen_event_types"] = chosen
        return cleaned

    def endpoint_data(self) -> dict:
        return {
            "url": self.cleaned_data["url"],
            "description": self.cleaned_data["description"],
            "event_types": self.cleaned_data["chosen_event_types"],
        }
