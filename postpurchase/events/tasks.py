"""Celery entry points for the event log. Thin: load by id, call a service.

An event with no ``next_dispatch_at`` has been dispatched already (or is history): a duplicate
task, which the sweep enqueues when a backlog outlasts a lease, runs nothing (one event's task
reports its consumers' statuses; a batch's skips it).
"""

from __future__ import annotations

from celery import shared_task

from postpurchase.events import services
from postpurchase.events.models import Event
from postpurchase.tenancy.scoping import current_merchant, merchant_task


@merchant_task(acks_late=True, name="postpurchase.events.tasks.event_dispatch")
def event_dispatch_task(*, event_id: int, merchant_id: int) -> dict[str, str]:
    event = Event.objects.filter(pk=event_id).select_related("merchant").first()
    if event is None:
        return {}
    return services.event_dispatch(event=event)


@merchant_task(acks_late=True, name="postpurchase.events.tasks.event_dispatch_many")
def event_dispatch_many_task(*, event_ids: list[int], merchant_id: int) -> int:
    """Dispatch a batch (recorded together by ``event_record_many``, or swept together): those
    of ``event_ids`` no other task has claimed, each consumer taking the batch at once
    (``services.events_pending``). A consumer failure is recorded on its event and retried by
    the sweep, as for one event."""
    return len(services.events_pending(merchant=current_merchant(), event_ids=event_ids))


@merchant_task(acks_late=True, name="postpurchase.events.tasks.events_pending")
def events_pending_task(*, merchant_id: int, flag: str = "") -> int:
    """Claim and dispatch what the merchant has waiting (``services.events_pending``): what
    an event recorded alone enqueues, so that under load they batch themselves."""
    return len(services.events_pending(merchant=current_merchant(), flag=flag))


@shared_task(acks_late=True, name="postpurchase.events.tasks.event_sweep")
def event_sweep() -> int:
    return len(services.event_sweep())
