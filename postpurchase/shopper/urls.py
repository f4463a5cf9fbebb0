"""Every shopper page, under ``/s/<slug:merchant_slug>/`` (mounted in ``postpurchase/urls.py``).

The shell's own pages come first, then each app's ``shopper_urls`` (named by string, so the
core imports no app: a new pillar adds its line here, as in ``postpurchase/dashboard/urls.py``),
and last a catch-all, so any other address under a merchant's slug is its branded 404.
"""

from django.urls import include, path, re_path

from postpurchase.shopper import views

SHELL = (
    [path("", views.OrderLookupView.as_view(), name="lookup")],
    "shopper",
)
# Apps' shopper pages, each in its own URL namespace (shopper_<app>).
APP_URLS = (
    "notifications.shopper_urls",  # unsubscribe/, preferences/
    "orders.shopper_urls",  # order/
    "tracking.shopper_urls",  # track/
    "tracking.claim_urls",  # track/<token>/claim/ (package protection claims)
)

urlpatterns = [
    path("", include(SHELL)),
    *(path("", include(module)) for module in APP_URLS),
    # Only addresses ending in "/": one without keeps Django's redirect to its "/" form.
    re_path(r"^(?:.*/)?$", views.ShopperNotFoundView.as_view(), name="shopper_not_found"),
]
