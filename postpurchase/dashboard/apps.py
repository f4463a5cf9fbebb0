from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "postpurchase.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
