from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from orders.dashboard_views import ORDERS_CARD
        from postpurchase.dashboard.cards import home_cards

        home_cards.register(ORDERS_CARD)  # the home page's figures and latest orders

        from orders.selectors import customer_find
        from postpurchase.events.customers import customer_resolvers

        customer_resolvers.register(customer_find)  # integrators' custom events name customers
