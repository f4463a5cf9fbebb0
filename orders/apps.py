from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from orders.events import events_register

        events_register()  # its event types in the catalogue (docs/events.md)

        from orders.erasure import orders_erase, orders_export
        from orders.privacy import privacy_parts

        # First of the privacy parts (the apps that build on orders load after it).
        privacy_parts.register("orders", eraser=orders_erase, exporter=orders_export)

        from orders.shopper_views import lookup_register

        lookup_register()  # the shopper shell's order lookup finds orders here

        from orders.dashboard_views import ORDERS_CARD
        from postpurchase.dashboard.cards import home_cards

        home_cards.register(ORDERS_CARD)  # the home page's figures and latest orders

        from orders.selectors import customer_find
        from postpurchase.events.customers import customer_resolvers

        customer_resolvers.register(customer_find)  # integrators' custom events name customers
