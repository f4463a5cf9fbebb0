"""The logs that are kept for a while and then removed: one policy per log, registered by the
app that owns it (in its ``AppConfig.ready()``), run by ``postpurchase.retention.services``.

A policy says which rows *may* go once they are old enough (``removable``): everything in flight
(an event still to dispatch, a message still to send, a delivery still pending) is left out,
whatever its age. Another app may *hold* rows of a log it does not own (``LogRegistry.hold``):
the journeys app holds the messages its running enrollments still read, without the
notifications app knowing about journeys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import models
from django.db.models import Q


@dataclass(frozen=True)
class LogPolicy:
    """One log: ``model`` rows dated by ``dated_by`` are kept ``settings.<setting>`` days.

    ``monthly`` logs (the ones partitioned by month on PostgreSQL) keep a row until the whole
    calendar month (UTC) it is dated in has expired, on every database, so SQLite and
    PostgreSQL keep exactly the same rows. ``month_held(start, end)``, when given, says whether
    a partition's month must be kept although none of its rows is in flight *yet*: rows may still
    arrive in a past month (a consumer run is dated by its event, so an event still in flight
    adds runs to its own month), and a month is dropped only once nothing can arrive in it.
    """

    name: str
    model: type[models.Model]
    dated_by: str
    setting: str
    removable: Callable[[], Q]
    monthly: bool = False
    month_held: Callable[[datetime, datetime], bool] | None = None


class LogRegistry:
    def __init__(self) -> None:
        self._policies: dict[str, LogPolicy] = {}
        self._holds: dict[str, list[Callable[[], Q]]] = {}

    def register(self, policy: LogPolicy) -> None:
        if policy.name in self._policies:
            raise ValueError(f"Log {policy.name!r} is registered already.")
        self._policies[policy.name] = policy

    def hold(self, name: str, held: Callable[[], Q]) -> None:
        """Keep the rows of log ``name`` that match ``held()``, whatever their age."""
        self._holds.setdefault(name, []).append(held)

    def policies(self) -> list[LogPolicy]:
        return list(self._policies.values())

    def get(self, name: str) -> LogPolicy:
        return self._policies[name]

    def removable(self, policy: LogPolicy) -> Q:
        """The rows of ``policy``'s log that may go once expired: its own rule less every hold."""
        condition = policy.removable()
        for held in self._holds.get(policy.name, []):
            condition &= ~held()
        return condition


def month_start(moment: datetime) -> datetime:
    """The first instant (UTC) of the calendar month (UTC) that holds ``moment``."""
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def retention_cutoff(policy: LogPolicy, *, days: int, now: datetime) -> datetime:
    """Rows dated before this may go: ``now - days``, or for a monthly log the first instant
    of the month that holds ``now - days`` (a month goes only once all of it has expired)."""
    cutoff = now - timedelta(days=days)
    return month_start(cutoff) if policy.monthly else cutoff


logs = LogRegistry()
