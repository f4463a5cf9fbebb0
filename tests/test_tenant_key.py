"""The tenant key on every table: what sharding by merchant (Citus, docs/scaling.md "Sizing")
would need, and where the schema stands today.

A distributed PostgreSQL such as Citus spreads a table over its nodes by one column, here
``merchant_id``, and can enforce a unique rule only when the rule includes that column. So every
tenant-owned table needs ``merchant_id`` and every unique rule on it needs ``merchant_id`` too.
This walks the Django models and compares what it finds with the reviewed lists below, exactly:
a new table without ``merchant_id``, or a new unique rule without it, fails here until someone
decides which kind it is and adds it with the reason; a gap that is closed must leave the list.
"""

from __future__ import annotations

from django.apps import apps
from django.db.models import UniqueConstraint

# Global tables: small, not any one merchant's, copied to every node (a Citus reference table)
# or kept on the coordinator.
GLOBAL_TABLES = {
    "auth_group": "Django's permission groups",
    "auth_group_permissions": "Django's permission groups",
    "auth_permission": "Django's permission catalogue",
    "django_admin_log": "the operators' admin actions, across merchants",
    "django_content_type": "Django's model catalogue",
    "django_session": "staff sessions, read before any merchant is known",
    "tenancy_merchant": "the tenants themselves: merchant_id is their id",
    "tenancy_user": "a user may be a member of several merchants",
    "tenancy_user_groups": "users' Django groups",
    "tenancy_user_user_permissions": "users' Django permissions",
}

# Tenant-owned tables without merchant_id: each reaches its merchant through a parent row, so
# Citus could not place it beside that parent. The gap: add merchant_id, copied from the parent.
TENANT_TABLES_WITHOUT_MERCHANT = {
    "events_eventconsumerrun": "through its event",
}

# Unique rules without merchant_id, each table's rule by its columns ("+ condition": partial).
UNIQUE_WITHOUT_MERCHANT = {
    # on global tables: they stay whole on one node, so their rules hold as they are
    ("auth_group", ("name",)): "global",
    ("auth_group_permissions", ("group_id", "permission_id")): "global",
    ("auth_permission", ("content_type_id", "codename")): "global",
    ("django_content_type", ("app_label", "model")): "global",
    ("tenancy_merchant", ("slug",)): "global: the shopper pages' URLs name the merchant",
    ("tenancy_user", ("email",)): "global",
    ("tenancy_user_groups", ("user_id", "group_id")): "global",
    ("tenancy_user_user_permissions", ("user_id", "permission_id")): "global",
    # lookups that find the merchant: unique across merchants by design, so they move to a
    # global table of their own (key or fingerprint -> merchant_id)
    ("tenancy_apikey", ("prefix",)): "lookup: an API key's prefix names its merchant",
    ("connectors_inboundconfig", ("shopify_secret_fingerprint", "+ condition")): (
        "lookup: a Shopify webhook's signing secret names its merchant"
    ),
    # scoped by a parent row of one merchant: the same rule with merchant_id first
    ("events_eventconsumerrun", ("event_id", "consumer", "event_recorded_at")): (
        "parent: the event (its recorded time: the runs are partitioned by month)"
    ),
    ("journeys_enrollment", ("journey_id", "customer_id", "key", "+ condition")): (
        "parent: the journey"
    ),
    ("journeys_journeyversion", ("journey_id", "number")): "parent: the journey",
    ("notifications_contactpreference", ("customer_id",)): "parent: the customer",
    ("notifications_messageevent", ("message_id", "provider_event_id", "+ condition")): (
        "parent: the message"
    ),
    ("notifications_messagetemplatevariant", ("version_id", "locale")): "parent: the version",
    ("notifications_messagetemplateversion", ("template_id", "number")): "parent: the template",
    ("orders_orderline", ("order_id", "external_id")): "parent: the order",
    ("orders_shipmentline", ("shipment_id", "order_line_id")): "parent: the shipment",
    ("orders_trackingevent", ("shipment_id", "occurred_at", "status", "description")): (
        "parent: the shipment"
    ),
}


def tables() -> list:
    return [
        model._meta
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]


def columns(meta) -> set[str]:
    return {field.column for field in meta.local_concrete_fields}


def unique_rules(meta) -> list[tuple[str, ...]]:
    """Every unique rule of a table but its primary key: unique fields, ``unique_together``,
    ``UniqueConstraint``; a partial one ends with "+ condition"."""
    column = lambda name: meta.get_field(name).column  # noqa: E731
    rules = [
        (field.column,)
        for field in meta.local_concrete_fields
        if field.unique and not field.primary_key
    ]
    rules += [tuple(map(column, together)) for together in meta.unique_together]
    for constraint in meta.constraints:
        if isinstance(constraint, UniqueConstraint):
            partial = ("+ condition",) if constraint.condition is not None else ()
            rules.append((*map(column, constraint.fields), *partial))
    return rules


def test_every_table_without_merchant_id_is_global_or_a_known_gap():
    without = {meta.db_table for meta in tables() if "merchant_id" not in columns(meta)}
    assert without == set(GLOBAL_TABLES) | set(TENANT_TABLES_WITHOUT_MERCHANT)


def test_every_unique_rule_without_merchant_id_is_reviewed():
    found = {
        (meta.db_table, rule)
        for meta in tables()
        for rule in unique_rules(meta)
        if "merchant_id" not in rule
    }
    assert found == set(UNIQUE_WITHOUT_MERCHANT)


def test_every_tenant_table_has_the_one_column_primary_key_citus_would_widen():
    # Citus needs the distribution column in the primary key too: (merchant_id, id). Today every
    # tenant table's key is its id alone (Django cannot yet point a foreign key at a composite
    # key), so this is the schema-wide gap scaling.md describes.
    tenant = [meta for meta in tables() if "merchant_id" in columns(meta)]
    assert {meta.pk.column for meta in tenant} == {"id"}
    # 40 with the tracking page's, and package protection's 4 (tracking/claims/models.py)
    assert len(tenant) == 44
