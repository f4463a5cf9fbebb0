"""The preference centre's form. It validates what the shopper ticked and nothing else:
``contact_preferences_save`` does the writing."""

from __future__ import annotations

from django import forms
from django.forms.boundfield import BoundWidget

from notifications.models import Kind
from notifications.preferences import TOPICS

# What each topic means to a shopper; the Kind's label alone ("Relationship") says little.
TOPIC_HELP = {
    Kind.ONBOARDING: "Tips for getting started with what you bought.",
    Kind.FEEDBACK: "Requests to review a purchase or answer a short survey.",
    Kind.RELATIONSHIP: "Thank-yous, loyalty rewards and news for customers.",
    Kind.RE_ENGAGEMENT: "Reminders and offers when it has been a while.",
}


class PreferencesForm(forms.Form):
    """Consent per channel, and the topics the shopper still wants ("send me …"): a topic left
    unticked is muted. The SMS switch exists only for a customer with a phone number."""

    email_marketing = forms.BooleanField(required=False, label="Marketing emails")
    sms_marketing = forms.BooleanField(required=False, label="Marketing text messages")
    topics = forms.MultipleChoiceField(
        required=False,
        choices=[(kind.value, kind.label) for kind in TOPICS],
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, show_sms: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not show_sms:
            del self.fields["sms_marketing"]

    @property
    def shows_sms(self) -> bool:
        return "sms_marketing" in self.fields

    def topic_options(self) -> list[tuple[BoundWidget, str]]:
        return [(option, TOPIC_HELP[option.data["value"]]) for option in self["topics"]]

    def muted(self) -> list[str]:
        """The topics left unticked, in ``TOPICS`` order."""
        wanted = set(self.cleaned_data["topics"])
        return [kind.value for kind in TOPICS if kind.value not in wanted]
