"""The embedded mode (SQLite) runs the one ingestion engine: the same scenario, through every
door, gives the same outcomes, rows and events on a fresh SQLite file as on PostgreSQL."""

from pathlib import Path

import pytest

from tests.embedded import on_fresh_sqlite
from tests.factories import MerchantFactory
from tests.orders.ingest_scenario import run_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def on_sqlite(tmp_path_factory):
    """The scenario's outcome on a fresh SQLite database, in a subprocess of its own."""
    folder = tmp_path_factory.mktemp("embedded")
    return on_fresh_sqlite(ROOT / "tests" / "orders" / "ingest_scenario.py", folder)


def test_every_door_gives_the_same_rows_and_events_on_sqlite_as_on_postgresql(db, on_sqlite):
    # given: a merchant like the subprocess's
    merchant = MerchantFactory(
        slug="twin", name="Twin", currency="EUR", country="FR", timezone="Europe/Paris"
    )

    # when
    on_postgresql = run_scenario(merchant)

    # then
    assert on_sqlite["outcomes"] == on_postgresql["outcomes"]
    for table, rows in on_postgresql["rows"].items():
        assert on_sqlite["rows"][table] == rows, table


def test_the_scenario_on_sqlite_has_the_outcomes_the_rules_give(on_sqlite):
    assert on_sqlite["outcomes"] == [
        ["single", "created", ["order.placed"]],
        ["single", "unchanged", []],
        ["bulk", "updated", ["order.updated", "order.cancelled"], None],
        ["bulk", "created", ["order.placed"], None],
        ["bulk", "created", ["order.placed"], None],
        ["bulk", "failed", [], "not_found"],
        ["bulk", "failed", [], "duplicate"],
        ["single", "stale", []],
        ["shipment", True, ["shipment.created", "order.fulfilled"]],
        ["single", "changed", ["order.updated"]],
        ["single", "unchanged", []],
        ["single", "changed", ["order.updated"]],
        ["single", "changed", ["order.updated"]],
    ]
    customers = {c["id"]: c for c in on_sqlite["rows"]["customers"]}
    # o1 is cancelled: cust-1's figures count o2 alone, placed first (first_order was true)
    assert (
        customers["cust-1"]["orders_count"],
        customers["cust-1"]["total_spent"],
        customers["cust-1"]["first_order_at"],
    ) == ("1", "85.000", "2026-02-01T10:00:00+00:00")
    assert customers["guest@example.net"]["email_marketing_consent"] == "True"
    # o3's address came, changed, and went (null); no event carries it
    orders = {o["external_id"]: o for o in on_sqlite["rows"]["orders"]}
    assert orders["o3"]["shipping_address"] == "{}"
    assert not any("shipping_address" in e[3] for e in on_sqlite["rows"]["events"])
    placed = [e for e in on_sqlite["rows"]["events"] if e[0] == "order.placed"]
    assert [(e[3]["external_id"], e[3]["first_order"]) for e in placed] == [
        ("o1", True),
        ("o2", True),
        ("o3", True),
    ]
