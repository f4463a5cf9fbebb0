"""The tracking app's shopper pages, on the shopper shell under ``/s/<merchant-slug>/``."""

from django.urls import path

from tracking import shopper_views

app_name = "shopper_tracking"

urlpatterns = [
    path("track/<str:token>/", shopper_views.TrackingPageView.as_view(), name="page"),
]
