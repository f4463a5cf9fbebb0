"""The dashboard's journeys pages: the list, a journey's page with its draft editor, its
actions, and its enrollments. Routed by ``journeys/dashboard_urls.py`` in the dashboard's
namespace."""

from journeys.dashboard_views.actions import (
    JourneyBlueprintInstallView,
    JourneyPauseView,
    JourneyPublishView,
    JourneyResumeView,
)
from journeys.dashboard_views.enrollments import EnrollmentDetailView, JourneyEnrollmentListView
from journeys.dashboard_views.pages import (
    JourneyCreateView,
    JourneyDetailView,
    JourneyJsonSaveView,
    JourneyListView,
    JourneySaveView,
)

__all__ = [
    "EnrollmentDetailView",
    "JourneyBlueprintInstallView",
    "JourneyCreateView",
    "JourneyDetailView",
    "JourneyEnrollmentListView",
    "JourneyJsonSaveView",
    "JourneyListView",
    "JourneyPauseView",
    "JourneyPublishView",
    "JourneyResumeView",
    "JourneySaveView",
]
