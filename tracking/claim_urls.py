"""The claim pages of the shopper shell, under ``/s/<merchant-slug>/`` beside the tracking
page they start from (``tracking/claims/shopper_views.py``)."""

from django.urls import path

from tracking.claims import shopper_views

app_name = "shopper_claims"

urlpatterns = [
    path("track/<str:token>/claim/", shopper_views.ClaimFileView.as_view(), name="file"),
    path("track/<str:token>/claim/status/", shopper_views.ClaimView.as_view(), name="claim"),
]
