"""Dashboard forms of the integrations page: they validate input; services do the writing."""

from __future__ import annotations

from django import forms

from connectors.tracking_feeds import NAMES


class ShopifySecretForm(forms.Form):
    shop_domain = forms.CharField(
        label="Store domain",
        max_length=255,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "placeholder": "your-store.myshopify.com"}
        ),
        help_text=(
            "Your store's myshopify.com domain (Shopify shows it under Settings → Domains). "
            "Deliveries from any other store are refused."
        ),
    )
    secret = forms.CharField(
        label="Shopify webhook secret",
        max_length=255,
        strip=True,
        # Never echoed back into the page, not even after a failed submit.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=(
            "In Shopify: Settings → Notifications → Webhooks, the key shown under the webhook "
            "list (“Your webhooks will be signed with …”), or your custom app's API secret."
        ),
    )


# Where each service shows or takes the webhook secret the merchant pastes here.
FEED_SECRET_HELP = {
    "easypost": (
        "The webhook secret you gave EasyPost for this webhook (its webhook settings, or "
        "webhook_secret in its API). Any string you chose there; it must be the same here."
    ),
    "aftership": (
        "In AfterShip Tracking: Settings → Webhooks, the webhook secret shown on that page."
    ),
}


class ServiceCheckedField(forms.CharField):
    """A required field whose blank value is still handed on: the service refuses it, with the
    same message as any other secret it cannot take, on this field."""

    def validate(self, value):
        pass


class FeedSecretForm(forms.Form):
    """The webhook secret of EasyPost or AfterShip. Blank and length are left to
    ``feed_secret_set``, whose error names this field, so the page says what the service
    says; no ``maxlength`` either, which would cut a pasted secret short without a word."""

    secret = ServiceCheckedField(
        label="Webhook secret",
        strip=True,
        # Never echoed back into the page, not even after a failed submit.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, vendor: str, **kwargs):
        # Each service's form has its own ids: the page holds several secret fields.
        super().__init__(*args, auto_id=f"id_{vendor}_%s", **kwargs)
        self.vendor = vendor
        self.fields["secret"].label = f"{NAMES[vendor]} webhook secret"
        self.fields["secret"].help_text = FEED_SECRET_HELP[vendor]
