"""The Tracking pages, included by the dashboard at tracking/, in its namespace."""

from django.urls import path

from tracking import dashboard_views as views

urlpatterns = [
    path("", views.AtRiskView.as_view(), name="tracking"),
    path("calibration/", views.CalibrationView.as_view(), name="tracking_calibration"),
    path("settings/", views.DelaySettingsView.as_view(), name="tracking_settings"),
    path("settings/save/", views.DelaySettingsSaveView.as_view(), name="tracking_settings_save"),
]
