"""Sending hours: when, in the shopper's own time zone, a message may go out.

The window runs from ``start`` to ``end`` local time (``end`` excluded); a window whose start is
after its end runs overnight (20:00-02:00), and one whose start equals its end is always open.
A message that falls outside is deferred to the first minute the window opens, found on the
wall clock of the shopper's zone, so it stays right across daylight-saving changes: 08:00 is
08:00 on the day the clocks went forward too, and a start that falls in the skipped hour opens
when the clocks land after it.
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
        opening = _opening_on(local.date() + timedelta(days=days), zone, start)
        if opening > at:
            return opening
    raise AssertionError("a sending window opens every day")  # pragma: no cover


def _opening_on(day, zone: ZoneInfo, start: time) -> datetime:
    """The first instant of ``day`` whose wall-clock time in ``zone`` is ``start`` or later."""
    instant = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).time() == start.replace(tzinfo=None):
        return instant  # the usual case, and the first of two when the clocks go back
    # ``start`` was skipped (the clocks went forward over it): the window opens when the clocks
    # land, at the first minute of the day at or after ``start``.
    minute = timedelta(minutes=1)
    while (instant - minute).astimezone(zone).time() >= start and (instant - minute).astimezone(
        zone
    ).date() == day:
        instant -= minute
    return instant
