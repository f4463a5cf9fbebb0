"""The event log: the spine every cross-app effect goes through, and its own outbox."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from postpurchase.tenancy.scoping import TenantModel


class Event(TenantModel):
    """Something that happened to a merchant's customer, recorded in the transaction of the change.

    ``next_dispatch_at`` is when the sweep should (re-)dispatch this event if nothing else has.
    While a dispatch task is queued it is that task's lease: set when the task is enqueued (at
    record time, or by the sweep, each re-enqueue without a run doubling the lease), so the sweep
    leaves a queued task alone and finds a lost one once its lease has run out. A dispatch pass
    moves it to a consumer's next retry, or clears it once every consumer has finished.

    ``is_history`` marks an event recorded as history (the demo seed, an import): it is stored
    as already dispatched and never handed to a consumer, so no journey or webhook fires on it.
    """

    customer = models.ForeignKey(
        "orders.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    type = models.CharField(max_length=100)
    occurred_at = models.DateTimeField(default=timezone.now)
    recorded_at = models.DateTimeField(default=timezone.now)
    payload = models.JSONField(default=dict, blank=True)
    # Room for a prefix, an external id (up to 255) and a timestamp.
    dedupe_key = models.CharField(max_length=400, null=True, blank=True)
    source = models.CharField(max_length=50, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    next_dispatch_at = models.DateTimeField(null=True, blank=True)
    # When the queued dispatch task was enqueued, and how many times in a row one was enqueued
    # without a dispatch pass running since (both reset by a pass).
    dispatch_enqueued_at = models.DateTimeField(null=True, blank=True)
    # Defaults in the database too, so a raw insert (a COPY that names the older columns) works.
    dispatch_enqueues = models.PositiveSmallIntegerField(default=0, db_default=0)
    is_history = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "dedupe_key"],
                condition=models.Q(dedupe_key__isnull=False),
                name="event_merchant_dedupe_key",
            )
        ]
        indexes = [
            models.Index(fields=["merchant", "type", "occurred_at"], name="event_merchant_type"),
            models.Index(fields=["customer", "occurred_at"], name="event_customer_time"),
            models.Index(
                fields=["next_dispatch_at"],
                condition=models.Q(next_dispatch_at__isnull=False),
                name="event_due_dispatch",
            ),
            # what retention looks for: the oldest events (docs/retention.md)
            models.Index(fields=["recorded_at"], name="event_recorded"),
            # a merchant's events waiting for a dispatch task (services.events_pending): few
            models.Index(
                fields=["merchant", "id"],
                condition=models.Q(dispatch_enqueued_at__isnull=False),
                name="event_dispatch_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class ConsumerRunStatus(models.TextChoices):
    FAILED = "failed", "Failed, will retry"
    DONE = "done", "Done"
    GAVE_UP = "gave_up", "Gave up after the last retry"


class EventConsumerRun(models.Model):
    """One consumer's progress on one event: the marker that makes each consumer run once.

    ``DONE`` is written in the same transaction as the consumer's own writes, so a consumer's
    effect and its marker commit together or not at all.

    ``event_recorded_at`` is a copy of the event's ``recorded_at``: on PostgreSQL the table is
    partitioned by month on it (docs/retention.md), and PostgreSQL wants every unique key of a
    partitioned table to include the partition key. Since it is a function of the event, the
    key ``(event, consumer, event_recorded_at)`` is exactly as strict as ``(event, consumer)``.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="consumer_runs")
    consumer = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=ConsumerRunStatus.choices)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    event_recorded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event", "consumer", "event_recorded_at"], name="event_consumer_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.consumer} on event #{self.event_id}: {self.status}"
