"""Package protection's forms: the shopper's claim, the merchant's settings and decisions."""

from __future__ import annotations

from django import forms

from tracking.claims.models import PROTECTION_LIMITS, ClaimKind, ClaimResolution, ClaimState
from tracking.claims.services import MESSAGE_MAX, STATEMENT_MAX

KIND_HELP = {
    ClaimKind.LOST: "It never arrived and the carrier has stopped updating.",
    ClaimKind.DAMAGED: "It arrived, but the items or the box are damaged.",
    ClaimKind.STOLEN: "The carrier says it was delivered, but it isn’t there.",
}


class ClaimForm(forms.Form):
    """What a shopper says: the kind (only those the parcel may take now) and a statement.
    Photos come as ``request.FILES.getlist("photos")`` and are checked by the service."""

    kind = forms.ChoiceField(label="What happened?", widget=forms.RadioSelect)
    statement = forms.CharField(
        label="Tell us more",
        required=False,
        max_length=STATEMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What you found, and anything the store should know.",
    )

    def __init__(self, *args, kinds: tuple[str, ...], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [
            (kind, label) for kind, label in ClaimKind.choices if kind in kinds
        ]

    def kind_options(self):
        return [(option, KIND_HELP[option.data["value"]]) for option in self["kind"]]


class ProtectionSettingsForm(forms.Form):
    offered = forms.BooleanField(
        label="Offer package protection",
        required=False,
        help_text="Shoppers choose it at checkout as an optional line; it is never pre-selected.",
    )
    protection_products = forms.CharField(
        label="Protection product SKUs or product ids",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: an order holding a line with one of these is protected.",
    )
    claim_window_days = forms.IntegerField(
        label="Days after delivery to claim damage or theft",
        min_value=PROTECTION_LIMITS["claim_window_days"][1],
        max_value=PROTECTION_LIMITS["claim_window_days"][2],
    )
    lost_after_days = forms.IntegerField(
        label="Days without a scan before “lost” may be claimed",
        min_value=PROTECTION_LIMITS["lost_after_days"][1],
        max_value=PROTECTION_LIMITS["lost_after_days"][2],
    )
    damage_photo_required = forms.BooleanField(label="Require a photo for damage", required=False)
    claims_per_customer = forms.IntegerField(
        label="Claims per customer",
        min_value=PROTECTION_LIMITS["claims_per_customer"][1],
        max_value=PROTECTION_LIMITS["claims_per_customer"][2],
    )
    limit_period_days = forms.IntegerField(
        label="…within this many days",
        min_value=PROTECTION_LIMITS["limit_period_days"][1],
        max_value=PROTECTION_LIMITS["limit_period_days"][2],
    )

    @classmethod
    def initial_from(cls, settings) -> dict:
        return {
            "offered": settings.offered,
            "protection_products": "\n".join(settings.protection_products),
            **{name: getattr(settings, name) for name in PROTECTION_LIMITS},
            "damage_photo_required": settings.damage_photo_required,
        }

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data["protection_products"] = data["protection_products"].splitlines()
        return data


class ClaimFilterForm(forms.Form):
    state = forms.ChoiceField(choices=[("", "All"), *ClaimState.choices], required=False)


class ClaimDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    message = forms.CharField(required=False, max_length=MESSAGE_MAX, widget=forms.Textarea)


class ClaimResolveForm(forms.Form):
    resolution = forms.ChoiceField(choices=ClaimResolution.choices)
