from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "postpurchase.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"
