"""Sending hours: when, in the shopper's own time zone, a message may go out.

The window runs from ``start`` to ``end`` local time (``end`` excluded); a window whose start is
after its end runs overnight (20:00-02:00), and one whose start equals its end is always open.
A message that falls outside is deferred to the first minute the window opens, found on the
wall clock of the shopper's zone, so it stays right across daylight-saving changes: 08:00 is
08:00 on the day the clocks went forward too; a start that falls in the skipped hour opens
when the clocks land after it; a start in the repeated hour opens at its first pass, and again
at its second for a message that comes between the two.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def is_open(local: time, start: time, end: time) -> bool:
    if start == end:
        return True
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_opening(at: datetime, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """``None`` when the window is open at ``at`` (an aware instant), else the instant (UTC) of
    the first minute it opens after ``at``."""
    local = at.astimezone(zone)
    if is_open(local.time(), start, end):
        return None
    for days in (0, 1, 2):
        for opening in _openings_on(local.date() + timedelta(days=days), zone, start):
            if opening > at:
                return opening
    raise AssertionError("a sending window opens every day")  # pragma: no cover


def _openings_on(day, zone: ZoneInfo, start: time) -> list[datetime]:
    """Every instant of ``day`` at which the wall clock in ``zone`` reaches ``start``: one, or
    two when the clocks go back over it. When they go forward over it, the moment they land."""
    found = []
    for fold in (0, 1):
        instant = datetime.combine(day, start, tzinfo=zone).replace(fold=fold).astimezone(UTC)
        if instant.astimezone(zone).time() == start.replace(tzinfo=None):
            found.append(instant)
    if found:
        return sorted(set(found))
    # ``start`` was skipped (the clocks went forward over it): the window opens when the clocks
    # land, at the first minute of the day at or after ``start``.
    instant = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
    minute = timedelta(minutes=1)
    while (instant - minute).astimezone(zone).time() >= start and (instant - minute).astimezone(
        zone
    ).date() == day:
        instant -= minute
    return [instant]
