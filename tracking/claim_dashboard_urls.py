"""The claim pages and protection settings, included by the dashboard at ``tracking/claims/``,
in its namespace (``tracking/claims/dashboard_views.py``)."""

from django.urls import path

from tracking.claims import dashboard_views as views

urlpatterns = [
    path("", views.ClaimListView.as_view(), name="claim_list"),
    path("settings/", views.ProtectionSettingsView.as_view(), name="settings_protection"),
    path("<int:pk>/", views.ClaimDetailView.as_view(), name="claim_detail"),
    path("<int:pk>/decide/", views.ClaimDecideView.as_view(), name="claim_decide"),
    path("<int:pk>/resolve/", views.ClaimResolveView.as_view(), name="claim_resolve"),
    path("photos/<int:pk>/", views.ClaimPhotoView.as_view(), name="claim_photo"),
]
