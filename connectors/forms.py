"""Dashboard forms of the integrations page: they validate input; services do the writing."""

from __future__ import annotations

from django import forms


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
