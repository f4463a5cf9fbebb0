"""The journeys pages, included by the dashboard at journeys/, in its namespace."""

from django.urls import path

from journeys import dashboard_views as views

urlpatterns = [
    path("", views.JourneyListView.as_view(), name="journey_list"),
    path("new/", views.JourneyCreateView.as_view(), name="journey_create"),
    path(
        "blueprints/install/",
        views.JourneyBlueprintInstallView.as_view(),
        name="journey_blueprint_install",
    ),
    path("<int:pk>/", views.JourneyDetailView.as_view(), name="journey_detail"),
    path("<int:pk>/save/", views.JourneySaveView.as_view(), name="journey_save"),
    path("<int:pk>/json/", views.JourneyJsonSaveView.as_view(), name="journey_json_save"),
    path("<int:pk>/publish/", views.JourneyPublishView.as_view(), name="journey_publish"),
    path("<int:pk>/pause/", views.JourneyPauseView.as_view(), name="journey_pause"),
    path("<int:pk>/resume/", views.JourneyResumeView.as_view(), name="journey_resume"),
    path(
        "<int:pk>/enrollments/",
        views.JourneyEnrollmentListView.as_view(),
        name="journey_enrollments",
    ),
    path(
        "enrollments/<int:pk>/",
        views.EnrollmentDetailView.as_view(),
        name="journey_enrollment_detail",
    ),
]
