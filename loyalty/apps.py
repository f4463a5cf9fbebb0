from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from loyalty.events import events_register

        events_register()  # its event types in the catalogue (docs/events.md)
