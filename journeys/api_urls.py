"""Routes of the journeys resource under /api/v1/."""

from django.urls import path

from journeys import api

urlpatterns = [
    path("journeys", api.JourneyListView.as_view(), name="journey-list"),
    path("journeys/<int:pk>", api.JourneyDetailView.as_view(), name="journey-detail"),
    path(
        "journeys/<int:pk>/simulate",
        api.JourneySimulateView.as_view(),
        name="journey-simulate",
    ),
]
