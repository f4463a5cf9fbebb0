"""The one ingestion engine through its two doors: a batch (``order_bulk_ingest``) gives each item
the rows and events the per-order door (``order_ingest``, a batch of one) gives it."""

import logging
from datetime import UTC, datetime

import pytest

from orders.models import Customer, Order, OrderLine, Product, Shipment
from orders.services.orders import BULK_MAX, order_bulk_ingest, order_ingest
from orders.services.products import product_upsert
from orders.services.shipments import shipment_ingest
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from tests.factories import MerchantFactory, order_payload, two_line_order_payload

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


# --- the comparison: one merchant fed by order_ingest, its twin by order_bulk_ingest ----------


@pytest.fixture
def twins(db, caplog):
    """Two merchants alike in everything but their slug. The bulk side must run as one batch,
    never falling back to its items one at a time (which the engine logs)."""
    caplog.set_level(logging.INFO, logger="orders.ingest.engine")
    yield tuple(
        MerchantFactory(slug=slug, currency="EUR", country="FR", timezone="Europe/Paris")
        for slug in ("one-by-one", "in-bulk")
    )
    assert [r.getMessage() for r in caplog.records if r.name == "orders.ingest.engine"] == []


def _customer_key(customer_id):
    if customer_id is None:
        return None
    customer = Customer.unscoped.get(pk=customer_id)
    return customer.external_id or customer.email or customer.phone


def snapshot(merchant):
    """Every row the ingestion writes for ``merchant``, by natural key and in id order, with
    exact values (ids replaced by the natural keys they point to)."""
    skip = {"id", "merchant", "merchant_id"}

    def rows(model, **replace):
        out = []
        for row in model.unscoped.filter(merchant=merchant).order_by("id").values():
            row = {k: v for k, v in row.items() if k not in skip}
            for name, to_key in replace.items():
                row[name] = to_key(row[name])
            out.append(row)
        return out

    order_key = {o.pk: o.external_id for o in Order.unscoped.filter(merchant=merchant)}
    product_key = {p.pk: p.external_id for p in Product.unscoped.filter(merchant=merchant)}
    shipment_key = {s.pk: s.external_id for s in Shipment.unscoped.filter(merchant=merchant)}
    events = rows(Event, customer_id=_customer_key)
    for event in events:
        event["payload"]["order_id"] = order_key.get(event["payload"].get("order_id"))
        if "shipment_id" in event["payload"]:
            event["payload"]["shipment_id"] = shipment_key[event["payload"]["shipment_id"]]
    return {
        "customers": rows(Customer),
        "products": rows(Product),
        "orders": rows(Order, customer_id=_customer_key),
        "lines": rows(OrderLine, order_id=order_key.get, product_id=product_key.get),
        "events": events,
    }


def _outcome(status, events=(), error=None):
    error = (error.code, error.fields) if error is not None else None
    return (status, list(events), error)


def one_by_one(merchant, payloads, now):
    outcomes = []
    for payload in payloads:
        try:
            result = order_ingest(merchant=merchant, payload=payload, now=now)
        except DomainError as error:
            outcomes.append(_outcome("failed", error=error))
            continue
        status = (
            "stale"
            if result.stale
            else "created"
            if result.created
            else "updated"
            if result.changed
            else "unchanged"
        )
        outcomes.append(_outcome(status, result.events))
    return outcomes


def in_bulk(merchant, payloads, now):
    results = order_bulk_ingest(merchant=merchant, payloads=payloads, now=now)
    assert [r.index for r in results] == list(range(len(payloads)))
    for result in results:
        if result.order is not None:
            assert result.order.pk is not None
    return [_outcome(r.status, r.events, r.error) for r in results]


def assert_same(twins, *steps):
    """Run each step on both merchants and compare outcomes and rows after each. A step is a
    list of payloads (one bulk request), or a callable ``step(merchant)`` run on both."""
    sequential, bulk = twins
    for number, step in enumerate(steps):
        now = NOW if number % 2 == 0 else LATER
        if callable(step):
            step(sequential)
            step(bulk)
            continue
        expected = one_by_one(sequential, step, now)
        got = in_bulk(bulk, step, now)
        assert got == expected, f"step {number}"
        want, have = snapshot(sequential), snapshot(bulk)
        for table, rows in want.items():
            for position, (row, other) in enumerate(zip(rows, have[table], strict=False)):
                assert other == row, f"step {number}: {table}[{position}]"
            assert len(have[table]) == len(rows), f"step {number}: {table}"
    return got


def test_a_new_order_then_a_resend_an_update_and_a_cancellation(twins):
    outcomes = assert_same(
        twins,
        [order_payload()],
        [order_payload()],
        [order_payload(tax="2.00", total="87.00")],
        [order_payload(tax="2.00", total="87.00", cancelled_at="2026-03-02T09:00:00Z")],
    )
    assert outcomes == [("updated", ["order.updated", "order.cancelled"], None)]


def test_a_whole_history_in_one_request_matches_one_by_one(twins):
    assert_same(
        twins,
        [
            order_payload(),
            order_payload(
                external_id="ord-2", number="#2", placed_at="2026-02-01T10:00:00Z", currency="USD"
            ),
            order_payload(external_id="ord-3", number="#3", fulfillment_status="fulfilled"),
        ],
        [
            order_payload(tax="2.00", total="87.00", updated_at="2026-03-02T10:00:00Z"),
            order_payload(external_id="ord-2", number="#2", placed_at="2026-02-01T10:00:00Z"),
            order_payload(external_id="ord-3", number="#3", cancelled_at="2026-03-02T09:00:00Z"),
        ],
    )


def test_a_stale_payload_is_ignored(twins):
    outcomes = assert_same(
        twins,
        [order_payload(updated_at="2026-03-01T15:00:00Z", tax="1.00", total="86.00")],
        [order_payload(updated_at="2026-03-01T13:00:00Z")],
    )
    assert outcomes == [("stale", [], None)]


def test_an_undated_payload_keeps_the_staleness_mark(twins):
    assert_same(
        twins,
        [order_payload(updated_at="2026-03-01T15:00:00Z", financial_status="paid")],
        [order_payload(financial_status="paid"), order_payload(external_id="x", number="x")],
        [order_payload(updated_at="2026-03-01T13:00:00Z", financial_status="pending")],
    )


def _guest(email="", phone="", **fields):
    return {k: v for k, v in {"email": email, "phone": phone, **fields}.items() if v}


def test_shoppers_found_by_external_id_email_phone_and_customer_external_id(twins):
    def without_customer(**overrides):
        payload = order_payload(**overrides)
        del payload["customer"]
        return payload

    assert_same(
        twins,
        [
            order_payload(external_id="o1", number="1", customer=_guest("guest@ex.net")),
            order_payload(external_id="o2", number="2", customer=_guest(phone="+33612345678")),
            order_payload(
                external_id="o3",
                number="3",
                customer=_guest("guest@ex.net", "+33612345678", first_name="G"),
            ),
            order_payload(external_id="o4", number="4", customer=_guest(phone="+33612345678")),
            without_customer(external_id="o5", number="5", customer_external_id="cust-1"),
            order_payload(external_id="o6", number="6"),
            without_customer(external_id="o7", number="7", customer_external_id="cust-1"),
            order_payload(
                external_id="o8", number="8", customer={"external_id": "c8", "email": "x@ex.net"}
            ),
            order_payload(external_id="o9", number="9", customer=_guest("X@ex.net")),
        ],
        [
            without_customer(external_id="o1", number="1", customer_external_id="c8"),
            order_payload(external_id="o10", number="10", customer=_guest("GUEST@EX.NET")),
        ],
    )


def test_consent_follows_the_newest_statement_within_a_request(twins):
    def consent(external_id, given, at, source):
        customer = {
            "external_id": "cust-1",
            "accepts_email_marketing": given,
            "consent_source": source,
            "consent_updated_at": at,
        }
        return order_payload(external_id=external_id, number=external_id, customer=customer)

    assert_same(
        twins,
        [
            consent("o1", True, "2026-03-01T10:00:00Z", "checkout"),
            consent("o2", False, "2026-02-01T10:00:00Z", "old-import"),
            consent("o3", False, "2026-03-05T10:00:00Z", "preferences"),
            order_payload(
                external_id="o4",
                number="o4",
                customer={"external_id": "cust-1", "tags": ["b", "a"]},
            ),
        ],
    )


def test_nested_products_and_references_within_a_request(twins):
    def line(ext, **fields):
        return {"external_id": ext, "quantity": 1, "unit_price": "10", **fields}

    shoe = {"external_id": "p1", "title": "Shoe", "sku": "S1", "category": "footwear"}
    assert_same(
        twins,
        [
            order_payload(
                external_id="o1",
                number="1",
                subtotal="20",
                total="20",
                shipping="0",
                lines=[line("a", product_external_id="p1"), line("b", product=shoe)],
            ),
            order_payload(
                external_id="o2",
                number="2",
                subtotal="10",
                total="10",
                shipping="0",
                lines=[line("a", product={**shoe, "category": "boots", "title": "Boot"})],
            ),
            order_payload(
                external_id="o3",
                number="3",
                subtotal="10",
                total="10",
                shipping="0",
                lines=[line("a", product_external_id="p1")],
            ),
            order_payload(
                external_id="o4",
                number="4",
                subtotal="10",
                total="10",
                shipping="0",
                lines=[line("a", product_external_id="ghost")],
            ),
        ],
        [
            order_payload(
                external_id="o1",
                number="1",
                subtotal="20",
                total="20",
                shipping="0",
                lines=[line("b", product={"external_id": "p1", "title": "Shoe"}), line("c")],
            )
        ],
    )


def test_a_shipped_line_cannot_be_dropped_but_the_rest_of_the_request_goes_on(twins):
    def ship(merchant):
        shipment_ingest(
            merchant=merchant,
            now=NOW,
            payload={
                "external_id": "ful-1",
                "order_external_id": "ord-1001",
                "lines": [{"line_external_id": "l1", "quantity": 1}],
            },
        )

    two_lines = two_line_order_payload()
    one_line = {
        **two_lines,
        "lines": [{"external_id": "l2", "title": "Cap", "quantity": 1, "unit_price": "20"}],
    }
    outcomes = assert_same(
        twins,
        [two_lines],
        ship,
        [one_line, order_payload(external_id="other", number="2")],
        [{**two_lines, "financial_status": "refunded"}],
        [{**two_lines, "lines": [{**two_lines["lines"][0], "quantity": 1}]}],
    )
    assert outcomes[0][0] == "updated"


def test_an_order_moving_to_another_customer_refreshes_both(twins):
    assert_same(
        twins,
        [
            order_payload(external_id="o1", number="1"),
            order_payload(
                external_id="o2", number="2", customer={"external_id": "cust-2", "email": "b@x.net"}
            ),
        ],
        [
            order_payload(
                external_id="o1", number="1", customer={"external_id": "cust-2", "email": "b@x.net"}
            ),
            order_payload(
                external_id="o3",
                number="3",
                placed_at="2026-01-01T00:00:00Z",
                customer={"external_id": "cust-1"},
            ),
        ],
        [
            order_payload(external_id="o2", number="2", customer={"external_id": "cust-1"}),
            order_payload(
                external_id="o4",
                number="4",
                placed_at="2026-02-15T00:00:00Z",
                customer={"external_id": "cust-2"},
            ),
        ],
    )


def test_first_order_follows_placement_within_a_request(twins):
    assert_same(
        twins,
        [
            order_payload(external_id="late", number="1", placed_at="2026-03-05T00:00:00Z"),
            order_payload(external_id="early", number="2", placed_at="2026-03-01T00:00:00Z"),
            order_payload(external_id="earliest", number="3", placed_at="2026-02-01T00:00:00Z"),
        ],
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"currency": "XXQ"},
        {"lines": [{"title": "x", "quantity": 1, "unit_price": "abc"}]},
        {"customer_external_id": "someone-else"},
        {"customer": None, "customer_external_id": "nobody"},
        {
            "lines": [
                {
                    "quantity": 1,
                    "unit_price": "1",
                    "product": {"external_id": "p", "title": "Mug", "price": "9.999"},
                }
            ]
        },
    ],
)
def test_one_bad_order_among_good_ones(twins, bad):
    outcomes = assert_same(
        twins,
        [
            order_payload(external_id="good-1", number="1"),
            order_payload(external_id="bad", number="2", **bad),
            order_payload(external_id="good-2", number="3", customer={"external_id": "cust-9"}),
        ],
    )
    assert [status for status, _, _ in outcomes] == ["created", "failed", "created"]


def test_a_bad_item_names_its_field_and_external_id(merchant_a):
    results = order_bulk_ingest(
        merchant=merchant_a,
        payloads=[
            order_payload(lines=[{"title": "x", "quantity": 1, "unit_price": "abc"}]),
            {"external_id": 7},
            "not an object",
        ],
        now=NOW,
    )

    assert [(r.external_id, r.status, r.order) for r in results] == [
        ("ord-1001", "failed", None),
        (None, "failed", None),
        (None, "failed", None),
    ]
    assert results[0].error.field == "lines[0].unit_price"
    assert results[0].error.code == "invalid"
    assert Order.unscoped.count() == Customer.unscoped.count() == Event.unscoped.count() == 0


def test_a_repeated_external_id_is_ingested_once_and_the_later_item_refused(merchant_a):
    results = order_bulk_ingest(
        merchant=merchant_a,
        payloads=[order_payload(), order_payload(tax="3.00", total="88.00"), order_payload()],
        now=NOW,
    )

    assert [(r.status, r.events) for r in results] == [
        ("created", ["order.placed"]),
        ("failed", []),
        ("failed", []),
    ]
    assert [(r.error.code, r.error.field) for r in results[1:]] == [
        ("duplicate", "external_id")
    ] * 2
    assert Order.unscoped.get().total == 85


def test_a_request_holds_at_most_bulk_max_orders(merchant_a):
    payloads = [
        order_payload(external_id=f"o{n}", number=str(n), customer={"external_id": f"c{n % 50}"})
        for n in range(BULK_MAX)
    ]

    results = order_bulk_ingest(merchant=merchant_a, payloads=payloads, now=NOW)
    with pytest.raises(DomainError) as excinfo:
        order_bulk_ingest(merchant=merchant_a, payloads=[*payloads, order_payload()], now=NOW)

    assert {r.status for r in results} == {"created"}
    assert excinfo.value.field == "orders"
    assert Order.unscoped.count() == BULK_MAX
    assert Event.unscoped.count() == BULK_MAX
    assert sorted(Customer.unscoped.values_list("orders_count", flat=True)) == [20] * 50


def test_the_whole_request_is_recorded_with_one_dispatch_task(
    merchant_a, django_capture_on_commit_callbacks, monkeypatch
):
    from postpurchase.events import services

    enqueued = []
    monkeypatch.setattr(services, "_enqueue_dispatch_many", lambda ids, m: enqueued.append(ids))
    # a request of a few orders joins whatever its merchant has waiting (a bulk task of its own
    # from BULK_MIN events on)
    monkeypatch.setattr(services, "_enqueue_pending", lambda m, ids: enqueued.append(ids))
    payloads = [order_payload(external_id=f"o{n}", number=str(n)) for n in range(3)]

    with django_capture_on_commit_callbacks(execute=True):
        order_bulk_ingest(merchant=merchant_a, payloads=payloads, now=NOW)

    assert enqueued == [list(Event.unscoped.order_by("id").values_list("id", flat=True))]


def test_a_product_price_in_the_request_is_upserted(merchant_a):
    product_upsert(merchant=merchant_a, payload={"external_id": "prod-1", "title": "Old"})

    order_bulk_ingest(merchant=merchant_a, payloads=[order_payload()], now=NOW)

    product = Product.unscoped.get()
    assert (product.title, product.sku, product.category) == ("Trail shoe", "TS-1", "footwear")
    assert product.updated_at == NOW


def test_first_order_counts_the_customers_earlier_orders_outside_the_request(twins):
    assert_same(
        twins,
        [order_payload(external_id="early", number="1", placed_at="2026-02-01T00:00:00Z")],
        [
            order_payload(external_id="later", number="2", placed_at="2026-03-05T00:00:00Z"),
            order_payload(external_id="earlier", number="3", placed_at="2026-01-05T00:00:00Z"),
        ],
    )


def test_the_per_order_door_and_a_batch_of_the_same_orders_agree(twins):
    # given: a sequence of deliveries of one order, one of them refused
    sequential, bulk = twins
    payloads = [
        order_payload(),
        order_payload(),
        order_payload(tax="2.00", total="87.00", updated_at="2026-03-02T10:00:00Z"),
        order_payload(updated_at="2026-03-02T09:00:00Z"),
        order_payload(customer_external_id="nobody", customer=None),
    ]
    # when: one merchant gets them through order_ingest, its twin as batches of one request each
    outcomes = []
    for payload in payloads:
        try:
            want = order_ingest(merchant=sequential, payload=payload, now=NOW)
        except DomainError as error:
            want = error
        [got] = order_bulk_ingest(merchant=bulk, payloads=[payload], now=NOW)
        outcomes.append((want, got))

    # then: the same outcome, in order_ingest's contract (an IngestResult, or a DomainError)
    assert [(got.status, got.events) for _, got in outcomes] == [
        ("created", ["order.placed"]),
        ("unchanged", []),
        ("updated", ["order.updated"]),
        ("stale", []),
        ("failed", []),
    ]
    for want, got in outcomes[:4]:
        assert (want.created, want.changed, want.stale, want.events) == (
            got.status == "created",
            got.status in ("created", "updated"),
            got.status == "stale",
            got.events,
        )
        assert want.instance.external_id == got.order.external_id
    want, got = outcomes[4]
    assert (want.code, want.fields) == (got.error.code, got.error.fields)
    assert snapshot(bulk) == snapshot(sequential)


def test_an_order_the_database_refuses_fails_alone_and_the_rest_of_the_batch_is_stored(
    merchant_a, caplog
):
    # given: the database refuses one of the orders (a rule no validation knows of)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE orders_order ADD CONSTRAINT test_refuse_o2 CHECK (external_id <> 'o2')"
        )
    payloads = [order_payload(external_id=f"o{n}", number=str(n)) for n in range(1, 4)]

    # when
    results = order_bulk_ingest(merchant=merchant_a, payloads=payloads, now=NOW)

    # then: the batch went one order at a time, each in its own transaction
    assert [(r.status, r.events) for r in results] == [
        ("created", ["order.placed"]),
        ("failed", []),
        ("created", ["order.placed"]),
    ]
    assert results[1].error.code == "store_failed"
    assert sorted(Order.unscoped.values_list("external_id", flat=True)) == ["o1", "o3"]
    assert Customer.unscoped.get().orders_count == 2
    assert "A batch of 3 orders went one at a time" in caplog.text


def test_the_per_order_door_raises_what_the_database_refuses(merchant_a):
    # given
    from django.db import IntegrityError, connection

    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE orders_order ADD CONSTRAINT test_refuse_o2 CHECK (external_id <> 'o2')"
        )

    # when / then: nothing of the order is kept
    with pytest.raises(IntegrityError):
        order_ingest(merchant=merchant_a, payload=order_payload(external_id="o2"), now=NOW)
    assert (Order.unscoped.count(), Customer.unscoped.count(), Event.unscoped.count()) == (0, 0, 0)


def test_a_new_customer_named_first_by_a_failing_item(twins):
    ghost = [{"product_external_id": "ghost", "title": "G", "quantity": 1, "unit_price": "80"}]
    assert_same(
        twins,
        [
            order_payload(
                external_id="o1",
                number="1",
                customer={"external_id": "c5", "first_name": "A"},
                lines=ghost,
            ),
            order_payload(
                external_id="o2", number="2", customer={"external_id": "c6"}, lines=ghost
            ),
            order_payload(
                external_id="o3", number="3", customer={"external_id": "c5", "first_name": "B"}
            ),
            order_payload(external_id="o4", number="4", customer=_guest("new@ex.net")),
        ],
    )
    assert not Customer.unscoped.filter(external_id="c6").exists()
