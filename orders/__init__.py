"""Orders: customers, products, orders and their lines, shipments and tracking events."""
