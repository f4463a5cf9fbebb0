"""Celery entry points for the event log. Thin: load by id, call a service."""

from __future__ import annotations

from celery import shared_task

from postpurchase.events import services
from postpurchase.events.models import Event
from postpurchase.tenancy.scoping import merchant_task


@merchant_task(acks_late=True, name="postpurchase.events.tasks.event_dispatch")
def event_dispatch_task(*, event_id: int, merchant_id: int) -> dict[str, str]:
    event = Event.objects.filter(pk=event_id).select_related("merchant").first()
    if event is None:
        return {}
    return services.event_dispatch(event=event)


@shared_task(acks_late=True, name="postpurchase.events.tasks.event_sweep")
def event_sweep() -> int:
    return len(services.event_sweep())
