from django.urls import include, path

from postpurchase.api.views import CurrentMerchantView

app_name = "api"

urlpatterns = [
    path("merchant", CurrentMerchantView.as_view(), name="merchant"),
    path("", include("webhooks.api_urls")),
]
