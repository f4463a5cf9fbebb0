from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The integrator API's shared parts: base views, errors, pagination, throttling, and the
    stored responses behind ``Idempotency-Key``."""

    name = "postpurchase.api"
    label = "api"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from postpurchase.api import schema  # noqa: F401 (registers the OpenAPI extension)
