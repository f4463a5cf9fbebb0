"""Celery entry points for journeys, on the ``journeys`` queue. Thin: one service call."""

from __future__ import annotations

from celery import shared_task

from journeys import services


@shared_task(acks_late=True, name="journeys.tasks.journeys_tick")
def journeys_tick_task() -> int:
    return services.journeys_tick()


@shared_task(acks_late=True, name="journeys.tasks.journeys_scheduled_entries")
def journeys_scheduled_entries_task() -> int:
    from journeys.scheduled import journeys_scheduled_entries

    return journeys_scheduled_entries()
