"""The bulk engine's row plumbing: values sent to PostgreSQL as text (COPY and unnest arrays)
arrive exactly as the ORM would have written them, and instances built without
``Model.__init__`` equal the ones it builds."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import DataError, connection, transaction

from orders.ingest.writes import new_instance, relate
from orders.models import Customer, FinancialStatus, Order, OrderLine, Product
from postpurchase.pgbulk import array_literal, copy_insert, unnest_rows
from tests.factories import MerchantFactory

AWKWARD = [
    "plain",
    "",
    "NULL",
    'quote " and backslash \\ and \\N',
    "tab\there, newline\nthere, return\rhere",
    "{braces}, commas, and 'single quotes'",
    "ünïcødé ✓ 日本",
]
FIELDS = (
    "id",
    "merchant",
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "timezone",
    "locale",
    "birthday",
    "tags",
    "email_marketing_consent",
    "email_consent_updated_at",
    "email_consent_source",
    "sms_marketing_consent",
    "sms_consent_source",
    "total_spent",
    "orders_count",
    "created_at",
    "updated_at",
)
CONSENT_AT = FIELDS.index("email_consent_updated_at")
NOW = datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=UTC)


def _customers(merchant, first_id: int) -> list[list]:
    rows = []
    for i, text in enumerate(AWKWARD):
        rows.append(
            [
                first_id + i,
                merchant.pk,
                f"c-{i}",
                f"c{i}@example.com",
                f"+3361234567{i}",
                text,
                text[::-1],
                "Asia/Kolkata",
                "fr-FR",
                date(1990, 1, 1) + timedelta(days=i) if i % 2 else None,
                [text, "b\\c", {"nested": text}] if i % 3 else [],
                bool(i % 2),
                datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=5, minutes=30)))
                if i % 2
                else None,
                text,
                not i % 2,
                "",
                Decimal("12345678.125") if i % 2 else Decimal(0),
                i,
                NOW,
                NOW,
            ]
        )
    return rows


def _stored(merchant) -> list[list]:
    values = Customer.unscoped.filter(merchant=merchant).order_by("id").values_list(*FIELDS)
    return [list(row) for row in values]


def _expected(rows: list[list]) -> list[list]:
    """What the ORM reads back: instants in UTC."""
    out = []
    for row in rows:
        row = list(row)
        if row[CONSENT_AT] is not None:
            row[CONSENT_AT] = row[CONSENT_AT].astimezone(UTC)
        out.append(row)
    return out


def _ids(count: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('orders_customer', 'id')) "
            "FROM generate_series(1, %s)",
            [count],
        )
        return min(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_copy_insert_writes_every_value_exactly():
    merchant = MerchantFactory()
    rows = _customers(merchant, _ids(len(AWKWARD)))
    fields = [Customer._meta.get_field(name) for name in FIELDS]
    with transaction.atomic():
        copy_insert(Customer._meta.db_table, fields, rows)
    assert _stored(merchant) == _expected(rows)


@pytest.mark.django_db
def test_unnest_rows_writes_every_value_exactly():
    merchant = MerchantFactory()
    rows = _customers(merchant, _ids(len(AWKWARD)))
    fields = [Customer._meta.get_field(name) for name in FIELDS]
    source, params = unnest_rows(fields, rows)
    columns = ", ".join(f.column for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO orders_customer ({columns}) SELECT * FROM {source} RETURNING id",  # noqa: S608
            params,
        )
        assert sorted(row[0] for row in cursor.fetchall()) == [row[0] for row in rows]
    assert _stored(merchant) == _expected(rows)


@pytest.mark.django_db
def test_a_value_too_long_for_its_column_is_refused_not_truncated():
    """The arrays are cast to the base type (varchar, not varchar(100)), so the insert's own
    check applies: an explicit cast to varchar(100) would cut the value silently."""
    merchant = MerchantFactory()
    [row] = _customers(merchant, _ids(1))[:1]
    row[FIELDS.index("first_name")] = "x" * 101  # varchar(100)
    fields = [Customer._meta.get_field(name) for name in FIELDS]
    source, params = unnest_rows(fields, [row])
    with pytest.raises(DataError, match="too long"), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO orders_customer ({', '.join(f.column for f in fields)}) "  # noqa: S608
            f"SELECT * FROM {source}",
            params,
        )


def test_array_literal_quotes_every_element_and_spells_null():
    assert array_literal(["a", None, 'b"c', "d\\e", "NULL", ""]) == (
        '{"a",NULL,"b\\"c","d\\\\e","NULL",""}'
    )


def _state_free(obj) -> dict:
    return {k: v for k, v in obj.__dict__.items() if k != "_state"}


@pytest.mark.django_db
def test_new_instance_equals_the_model_constructor():
    merchant = MerchantFactory()
    customer = Customer.unscoped.create(merchant=merchant, external_id="c-1", email="a@b.co")
    product = Product.unscoped.create(merchant=merchant, external_id="p-1", title="Stove")
    cases = [
        (Customer, {"merchant": merchant, "pk": 41, "external_id": "c-2", "created_at": NOW}),
        (
            Customer,
            {"merchant": merchant, "email": "x@y.co", "tags": ["a"], "updated_at": NOW},
        ),
        (
            Order,
            {
                "merchant": merchant,
                "external_id": "o-1",
                "number": "#1",
                "customer": customer,
                "placed_at": NOW,
                "currency": "EUR",
                "subtotal": Decimal("10.00"),
                "total": Decimal("10.00"),
                "financial_status": FinancialStatus.PAID,
                "created_at": NOW,
                "updated_at": NOW,
            },
        ),
        (Order, {"merchant": merchant, "external_id": "o-2", "customer": None}),
        (Product, {"merchant": merchant, "external_id": "p-2", "title": "Tent"}),
        (
            OrderLine,
            {
                "merchant": merchant,
                "external_id": "#1",
                "title": "Stove",
                "quantity": 2,
                "unit_price": Decimal("5.00"),
                "position": 0,
            },
        ),
    ]
    for model, values in cases:
        # Fields left out take their defaults; ``now`` ones are set here so both sides agree.
        stamps = [f.name for f in model._meta.fields if f.name in ("created_at", "updated_at")]
        values = {**dict.fromkeys(stamps, NOW), **values}
        fast, slow = new_instance(model, **values), model(**values)
        assert _state_free(fast) == _state_free(slow), model
        assert (fast._state.adding, fast._state.db) == (slow._state.adding, slow._state.db)
        assert fast._state.fields_cache == slow._state.fields_cache, model
    with pytest.raises(TypeError, match="no field 'nmuber'"):
        new_instance(Order, merchant=merchant, nmuber="#1")  # as Order(nmuber=...) refuses
    # Two instances never share a default's mutable value (tags defaults to a new list).
    first, second = new_instance(Customer, merchant=merchant), new_instance(Customer)
    assert first.tags == [] and first.tags is not second.tags

    line = new_instance(OrderLine, merchant=merchant)
    order = Order.unscoped.create(
        merchant=merchant,
        external_id="o-3",
        number="#3",
        placed_at=NOW,
        currency="EUR",
        subtotal=Decimal(1),
        total=Decimal(1),
    )
    relate(line, OrderLine._meta.get_field("order"), order)
    relate(line, OrderLine._meta.get_field("product"), product)
    assert (line.order_id, line.order, line.product_id, line.product) == (
        order.pk,
        order,
        product.pk,
        product,
    )
    relate(line, OrderLine._meta.get_field("product"), None)
    assert (line.product_id, line.product) == (None, None)


@pytest.mark.django_db
def test_a_customer_whose_figures_alone_move_keeps_the_rest_of_its_row_as_stored():
    """Only the figures are written: JSON the engine did not change is not read back into
    Python and written again (floats would lose digits on the way)."""
    from orders.services.orders import order_bulk_ingest
    from tests.factories import order_payload

    merchant = MerchantFactory(currency="EUR")
    customer = Customer.unscoped.create(merchant=merchant, external_id="c-1", email="a@b.co")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orders_customer SET tags = '[1.00, 0.1000000000000000000001]' WHERE id = %s",
            [customer.pk],
        )
    payload = order_payload(external_id="o-1", customer_external_id="c-1")
    del payload["customer"]  # named by id only: the customer itself is not changed

    [result] = order_bulk_ingest(merchant=merchant, payloads=[payload])

    assert result.status == "created"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tags::text, orders_count FROM orders_customer WHERE id = %s", [customer.pk]
        )
        assert cursor.fetchone() == ("[1.00, 0.1000000000000000000001]", 1)
