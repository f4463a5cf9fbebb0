"""The shopper's message links, on the shopper shell under ``/s/<merchant-slug>/``
(``postpurchase/shopper/urls.py`` includes this; the tokens are ``notifications.links``)."""

from django.urls import path

from notifications import shopper_views

app_name = "shopper_notifications"

urlpatterns = [
    path("unsubscribe/<str:token>/", shopper_views.UnsubscribeView.as_view(), name="unsubscribe"),
    path("preferences/<str:token>/", shopper_views.PreferencesView.as_view(), name="preferences"),
]
