from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    name = "returns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from returns.events import events_register

        events_register()  # its event types in the catalogue (docs/events.md)
