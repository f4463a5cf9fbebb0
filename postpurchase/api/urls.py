from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularSwaggerView

from postpurchase.api.exceptions import api_not_found
from postpurchase.api.schema import CachedSchemaView
from postpurchase.api.views import CurrentMerchantView
from postpurchase.events.api import EventDetailView, EventListView

app_name = "api"

urlpatterns = [
    path("merchant", CurrentMerchantView.as_view(), name="merchant"),
    path("events", EventListView.as_view(), name="event-list"),
    path("events/<int:pk>", EventDetailView.as_view(), name="event-detail"),
    path("", include("orders.api_urls")),
    path("", include("webhooks.api_urls")),
    path("", include("journeys.api_urls")),
    path("", include("tracking.claim_api_urls")),
    # The OpenAPI document and Swagger UI, served from our own static files. (Not Redoc: its
    # bundle loads web fonts and a logo from other sites.)
    path("schema/", CachedSchemaView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # Last: any other path is a problem+json 404, even with DEBUG on.
    re_path(r"", api_not_found),
]
