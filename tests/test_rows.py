"""Model instances from hand-written SQL (postpurchase/rows.py): the same values the ORM loads,
and statements prepared once per PostgreSQL connection."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext

from connectors.models import InboundConfig
from notifications.models import SendingPolicy
from orders.models import Order
from postpurchase import rows
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def kept_connections(monkeypatch):
    """Connections kept between requests, as production keeps them (``DB_CONN_MAX_AGE``)."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)


ORDER_BY_ID = f"FROM {rows.table(Order)} t WHERE t.merchant_id = %s AND t.id = %s"


def test_a_row_becomes_the_instance_the_orm_loads(merchant_a):
    # given: an order with a decimal, a JSON document, times and a foreign key
    made = OrderFactory(
        merchant=merchant_a,
        number="#1001",
        total=Decimal("55.10"),
        shipping_address={"city": "Leeds", "country_code": "GB", "lines": ["1 Kirk St"]},
        cancelled_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    )

    # when
    [read] = rows.instances(Order, ORDER_BY_ID, [merchant_a.pk, made.pk])

    # then: every field as the ORM reads it, and marked as loaded from the database
    orm = Order.unscoped.get(pk=made.pk)
    for field in Order._meta.concrete_fields:
        assert getattr(read, field.attname) == getattr(orm, field.attname), field.name
    assert read.total == Decimal("55.10")
    assert read.shipping_address == {"city": "Leeds", "country_code": "GB", "lines": ["1 Kirk St"]}
    assert read.cancelled_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert read._state.adding is False
    assert read.customer_id == made.customer_id


def json_read(model, alias_sql: str, params: list):
    """``json_agg`` of ``model``'s rows (``json_columns``), each read back by ``json_instance``."""
    [[arrays]] = rows.fetch(f"SELECT json_agg({rows.json_columns(model, 't')}) {alias_sql}", params)
    return [rows.json_instance(model, values) for values in arrays or []]


def test_a_json_array_becomes_the_instance_the_orm_loads(merchant_a):
    # given: a decimal with trailing zeros, a JSON document holding a float, an integer and a
    # nested list, times with microseconds and a null time
    made = OrderFactory(
        merchant=merchant_a,
        total=Decimal("55.10"),
        shipping_address={"weight": 1.5, "count": 2, "lines": ["1 Kirk St", None]},
        placed_at=datetime(2026, 3, 1, 8, 5, 9, 123456, tzinfo=UTC),
        cancelled_at=None,
    )

    [read] = json_read(Order, ORDER_BY_ID, [merchant_a.pk, made.pk])

    orm = Order.unscoped.get(pk=made.pk)
    for field in Order._meta.concrete_fields:
        value, expected = getattr(read, field.attname), getattr(orm, field.attname)
        assert (value, type(value)) == (expected, type(expected)), field.name
    assert str(read.total) == str(orm.total) == "55.100"  # the column keeps three places
    assert read.shipping_address == {"weight": 1.5, "count": 2, "lines": ["1 Kirk St", None]}
    assert read.placed_at == datetime(2026, 3, 1, 8, 5, 9, 123456, tzinfo=UTC)
    assert read._state.adding is False


def test_an_instance_is_built_as_the_orm_builds_it_also_with_init_listeners(merchant_a):
    # given
    made = OrderFactory(merchant=merchant_a, number="#1002", total=Decimal("9.90"))
    orm = Order.unscoped.get(pk=made.pk)
    inited = []

    def listener(sender, instance, **kwargs):
        inited.append(instance.number)

    # when: built straight, then through from_db (a listener of post_init wants the call)
    [straight] = rows.instances(Order, ORDER_BY_ID, [merchant_a.pk, made.pk])
    post_init.connect(listener, sender=Order)
    try:
        [called] = rows.instances(Order, ORDER_BY_ID, [merchant_a.pk, made.pk])
    finally:
        post_init.disconnect(listener, sender=Order)

    # then: the same attributes and state as the ORM's instance
    for read in (straight, called):
        attributes = {k: v for k, v in vars(read).items() if k != "_state"}
        assert attributes == {k: v for k, v in vars(orm).items() if k != "_state"}
        assert (read._state.adding, read._state.db, read.pk) == (False, "default", made.pk)
    assert inited == ["#1002"]


def test_a_json_array_of_an_encrypted_field_is_decrypted(merchant_a):
    # given: a field that decrypts what it loads (postpurchase.crypto), and a time column
    policy = SendingPolicy.unscoped.create(merchant=merchant_a, send_from=time(7, 30))
    secrets = InboundConfig.unscoped.create(merchant=merchant_a, tracking_secret="whsec_plain")

    [config] = json_read(
        InboundConfig, f"FROM {rows.table(InboundConfig)} t WHERE t.id = %s", [secrets.pk]
    )
    [sending] = json_read(
        SendingPolicy, f"FROM {rows.table(SendingPolicy)} t WHERE t.id = %s", [policy.pk]
    )

    assert config.tracking_secret == "whsec_plain"
    assert sending.send_from == time(7, 30)


def test_a_row_read_with_another_merchant_s_id_is_not_found(merchant_a, merchant_b):
    theirs = OrderFactory(merchant=merchant_b)

    assert rows.instances(Order, ORDER_BY_ID, [merchant_a.pk, theirs.pk]) == []


def prepares(sql: str, params: list) -> list[str]:
    """What reaches the database when ``sql`` runs: the PREPARE (if any) and the statement."""
    with CaptureQueriesContext(connection) as captured:
        rows.fetch(sql, params)
    return [query["sql"].split(" AS ")[0] for query in captured.captured_queries]


def test_a_statement_is_prepared_once_per_connection(merchant_a):
    sql = "SELECT COUNT(*) FROM tenancy_merchant WHERE id = %s AND slug LIKE 'a%%'"
    name = rows._prepared_text(sql)[0]

    first, second = prepares(sql, [merchant_a.pk]), prepares(sql, [merchant_a.pk])

    assert first == [f"PREPARE {name}", f"EXECUTE {name}({merchant_a.pk})"]
    assert second == [f"EXECUTE {name}({merchant_a.pk})"]
    assert rows.fetch(sql, [merchant_a.pk]) == [(1,)]  # 'alpha': the %% is a percent sign


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again(merchant_a):
    sql = "SELECT slug FROM tenancy_merchant WHERE id = %s"
    assert rows.fetch(sql, [merchant_a.pk]) == [("alpha",)]

    connection.close()  # the server forgets what this connection prepared

    assert prepares(sql, [merchant_a.pk])[0].startswith("PREPARE ")
    assert rows.fetch(sql, [merchant_a.pk]) == [("alpha",)]


def test_with_prepared_statements_off_the_sql_runs_as_written(merchant_a, settings):
    settings.DB_PREPARED_STATEMENTS = False
    sql = "SELECT slug FROM tenancy_merchant WHERE id = %s"

    assert prepares(sql, [merchant_a.pk]) == [
        f"SELECT slug FROM tenancy_merchant WHERE id = {merchant_a.pk}"  # noqa: S608
    ]


def test_a_statement_with_many_parameters_runs_unprepared(merchant_a):
    ids = list(range(1, rows.MAX_PREPARED_PARAMS + 2))
    marks = ", ".join(["%s"] * len(ids))
    sql = f"SELECT COUNT(*) FROM tenancy_merchant WHERE id IN ({marks})"  # noqa: S608

    [ran] = prepares(sql, ids)

    assert ran.startswith("SELECT COUNT(*) FROM tenancy_merchant WHERE id IN (1, 2, 3,")


def test_a_connection_closed_after_each_request_prepares_nothing(merchant_a, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    sql = "SELECT slug FROM tenancy_merchant WHERE id = %s"

    assert prepares(sql, [merchant_a.pk]) == [
        f"SELECT slug FROM tenancy_merchant WHERE id = {merchant_a.pk}"  # noqa: S608
    ]
