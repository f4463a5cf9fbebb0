"""Conditions on a journey's facts: the trigger event's payload, the customer, the order, and the
messages earlier steps sent. Facts are plain data; a path that leads nowhere is "missing" (so
``exists``/``missing`` can test for it, and every other comparison with it is false)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from journeys.schema import Condition

MISSING = object()


def resolve(facts: dict[str, Any], path: str) -> Any:
    value: Any = facts
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _compare(left: Any, right: Any) -> int | None:
    """-1, 0 or 1, numerically when both read as numbers, else as text; None when unordered."""
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    if isinstance(left, str) and isinstance(right, str):
        return (left > right) - (left < right)
    return None


def equal(left: Any, right: Any) -> bool:
    order = _compare(left, right)
    return order == 0 if order is not None else left == right


def holds(condition: Condition, facts: dict[str, Any]) -> bool:
    value = resolve(facts, condition.path)
    op, expected = condition.op, condition.value
    if op == "exists":
        return value is not MISSING and value is not None
    if op == "missing":
        return value is MISSING or value is None
    if value is MISSING:
        return False
    if op == "eq":
        return equal(value, expected)
    if op == "ne":
        return not equal(value, expected)
    if op in ("gt", "gte", "lt", "lte"):
        order = _compare(value, expected)
        if order is None:
            return False
        return {"gt": order > 0, "gte": order >= 0, "lt": order < 0, "lte": order <= 0}[op]
    if op in ("contains", "not_contains"):
        if isinstance(value, list):
            found = any(equal(item, expected) for item in value)
        elif isinstance(value, str) and isinstance(expected, str):
            found = expected.lower() in value.lower()
        else:
            found = False
        return found if op == "contains" else not found
    if op == "in":
        return isinstance(expected, list) and any(equal(value, item) for item in expected)
    return False  # pragma: no cover - the schema allows no other op


def all_hold(conditions: list[Condition], facts: dict[str, Any], *, match: str = "all") -> bool:
    results = (holds(condition, facts) for condition in conditions)
    return any(results) if match == "any" else all(results)
