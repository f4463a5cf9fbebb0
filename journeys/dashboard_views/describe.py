"""A journey's definition in the merchant's words, for the list and the live version's summary:
``Order placed, when event.total is more than 100``, ``Wait 3 days, then until 10:00``."""

from __future__ import annotations

from typing import Any

from journeys.actions import actions
from journeys.forms import DATES, OPS, WEEKDAYS, format_value
from journeys.models import EnrollmentState, JourneyStatus
from postpurchase.dashboard.formatting import event_label

JOURNEY_TONES = {
    JourneyStatus.LIVE: "success",
    JourneyStatus.PAUSED: "warning",
    JourneyStatus.DRAFT: "neutral",
    JourneyStatus.ARCHIVED: "neutral",
}
ENROLLMENT_TONES = {
    EnrollmentState.ACTIVE: "info",
    EnrollmentState.WAITING: "info",
    EnrollmentState.COMPLETED: "success",
    EnrollmentState.EXITED: "neutral",
    EnrollmentState.FAILED: "danger",
}
OUTCOME_TONES = {
    "converted": "success",
    "completed": "success",
    "entered": "info",
    "held_out": "warning",
    "failed": "danger",
    "bounced": "danger",
    "complained": "danger",
    "suppressed": "warning",
}
OP_WORDS = dict(OPS)
DATE_WORDS = {path: label.lower() for path, label in DATES}
DAY_WORDS = dict(WEEKDAYS)


def outcome_tone(outcome: str) -> str:
    """A step log outcome's colour; a send's is its message's status (``failed:render``)."""
    return OUTCOME_TONES.get(outcome.partition(":")[0], "neutral")


def plural(count: float, word: str) -> str:
    count = int(count) if float(count).is_integer() else count
    return f"{count} {word}{'' if count == 1 else 's'}"


def condition_in_words(condition: dict) -> str:
    words = f"{condition.get('path', '')} {OP_WORDS.get(condition.get('op'), condition.get('op'))}"
    if condition.get("op") in ("exists", "missing"):
        return words
    return f"{words} {format_value(condition.get('value'))}"


def conditions_in_words(conditions: list[dict], match: str = "all") -> str:
    joiner = " or " if match == "any" else " and "
    return joiner.join(condition_in_words(condition) for condition in conditions)


def trigger_in_words(trigger: dict[str, Any]) -> str:
    kind = trigger.get("type", "event")
    at = trigger.get("at", "10:00")
    if kind == "event":
        words = event_label(trigger.get("event") or "")
    elif kind == "date":
        date = DATE_WORDS.get(trigger.get("date"), "a date")
        offset = trigger.get("offset_days", 0)
        words = f"The customer's {date}"
        if offset:
            side = "after" if offset > 0 else "before"
            words = f"{plural(abs(offset), 'day')} {side} the customer's {date}"
        words += f"{', every year' if trigger.get('yearly') else ''}, at {at}"
    else:
        words = f"{plural(trigger.get('days') or 0, 'day')} without an order, at {at}"
    if trigger.get("conditions"):
        words += f", when {conditions_in_words(trigger['conditions'])}"
    return words


def entry_in_words(entry: dict[str, Any]) -> str:
    per = "one at a time per order" if entry.get("per") == "order" else "one at a time"
    again = {
        "never": "never again",
        "always": "again once the last one ended",
        "after": f"again {plural(entry.get('cooldown_hours', 0), 'hour')} after the last entry",
    }.get(entry.get("reentry", "always"), "")
    words = f"Enters {per}, {again}"
    if entry.get("max_entries"):
        words += f", at most {plural(entry['max_entries'], 'time')}"
    return words


def _then(step_id: str) -> str:
    return f"→ {step_id}" if step_id else "→ end"


def step_in_words(step: dict[str, Any]) -> str:
    """What a step does, and where it goes."""
    kind = step.get("type")
    if kind == "send":
        words = f"Send {step.get('template')}"
        if step.get("fallback_template"):
            words += f" (else {step['fallback_template']})"
        return f"{words} {_then(step.get('next', ''))}"
    if kind == "delay":
        parts = [plural(step[k], k[:-1]) for k in ("days", "hours") if step.get(k)]
        words = f"Wait {' '.join(parts) or 'no time'}"
        if step.get("until"):
            offset = step.get("offset_days") or 0
            shift = (
                f"{plural(abs(offset), 'day')} {'after' if offset > 0 else 'before'} "
                if offset
                else ""
            )
            words = f"Wait until {shift}{step['until']}"
        if step.get("at"):
            words += f", then until {step['at']}"
        if step.get("weekdays"):
            words += f" on {', '.join(DAY_WORDS[d] for d in step['weekdays'])}"
        return f"{words} {_then(step.get('next', ''))}"
    if kind == "wait_for_event":
        words = f"Wait up to {plural(step.get('timeout_hours', 0), 'hour')} for "
        words += event_label(step.get("event", ""))
        otherwise = _then(step.get("timeout_next", ""))
        return f"{words} {_then(step.get('next', ''))}; if not {otherwise}"
    if kind == "condition":
        words = f"If {conditions_in_words(step.get('conditions', []), step.get('match', 'all'))}"
        return f"{words} {_then(step.get('then', ''))}; else {_then(step.get('else', ''))}"
    if kind == "split":
        branches = [
            f"{b.get('name') or f'branch {i}'} ({b.get('weight')}) {_then(b.get('next', ''))}"
            for i, b in enumerate(step.get("branches", []), start=1)
        ]
        return f"Split: {'; '.join(branches)}"
    if kind == "action":  # in the registered action's words (journeys/actions.py)
        action = actions.get(step.get("action", ""))
        words = action.in_words(step) if action else f"Do {step.get('action')}"
        return f"{words} {_then(step.get('next', ''))}"
    return "End the journey"


def goal_in_words(goal: dict[str, Any] | None) -> str:
    if not goal:
        return "No goal"
    return f"{event_label(goal['event'])} within {plural(goal['within_hours'], 'hour')} of entry"
