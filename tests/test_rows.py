"""Model instances from hand-written SQL (postpurchase/rows.py): the same values the ORM loads,
and statements prepared once per PostgreSQL connection."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

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
