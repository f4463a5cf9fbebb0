"""Journeys: a merchant's flows, their published versions, and each customer's way through one.

A ``Journey`` holds an editable ``draft`` (the definition: trigger, entry rules, exit events,
goal, holdout and steps; see ``journeys/schema.py``). Publishing freezes the draft into a new,
immutable ``JourneyVersion``; new enrollments use the live version, running ones keep theirs.
An ``Enrollment`` is the state of one customer in one version: where it is, when it is next due
(``next_run_at``: a row the scheduler claims, never a broker timer), what it waits for, its
A/B assignments and holdout flag. ``JourneyStepLog`` records every step taken, when and why.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from postpurchase.tenancy.scoping import TenantModel


class JourneyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"
    PAUSED = "paused", "Paused"
    ARCHIVED = "archived", "Archived"


class Journey(TenantModel):
    key = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=JourneyStatus.choices, default=JourneyStatus.DRAFT
    )
    draft = models.JSONField(default=dict, blank=True)
    live_version = models.ForeignKey(
        "JourneyVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="journey_key"),
        ]
        indexes = [models.Index(fields=["merchant", "status"], name="journey_status")]

    def __str__(self) -> str:
        return self.name


class JourneyVersion(TenantModel):
    """A published definition, never changed afterwards."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    trigger_type = models.CharField(max_length=20, default="event")  # event, date, inactivity
    trigger_event = models.CharField(max_length=100, blank=True)  # for the entry lookup
    goal_event = models.CharField(max_length=100, blank=True)  # for the goal lookup
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["journey", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "number"], name="journey_version_number"),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id} v{self.number}"


class EnrollmentState(models.TextChoices):
    ACTIVE = "active", "Active"  # due to run at next_run_at
    WAITING = "waiting", "Waiting for an event"  # next_run_at is the timeout
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"
    FAILED = "failed", "Failed"


OPEN_STATES = (EnrollmentState.ACTIVE, EnrollmentState.WAITING)


class Enrollment(TenantModel):
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="enrollments")
    version = models.ForeignKey(JourneyVersion, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "orders.Customer", on_delete=models.CASCADE, related_name="enrollments"
    )
    key = models.CharField(max_length=200)  # "customer", "order:123": one open per key
    state = models.CharField(
        max_length=10, choices=EnrollmentState.choices, default=EnrollmentState.ACTIVE
    )
    current_step = models.CharField(max_length=64, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    wait_event = models.CharField(max_length=100, blank=True)
    wait_match = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)  # the trigger's data, visits
    assignments = models.JSONField(default=dict, blank=True)  # split step id → branch index
    holdout = models.BooleanField(default=False)
    entered_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=100, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    revenue = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)

    class Meta:
        ordering = ["-entered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "customer", "key"],
                condition=models.Q(state__in=["active", "waiting"]),
                name="enrollment_open_per_key",
            ),
        ]
        indexes = [
            models.Index(  # the tick's order: no sort of everything due, batch after batch
                fields=["next_run_at", "id"],
                name="enrollment_due",
                condition=models.Q(state__in=["active", "waiting"]),
            ),
            models.Index(
                fields=["customer", "wait_event"],
                name="enrollment_waiting",
                condition=models.Q(state="waiting"),
            ),
            models.Index(fields=["journey", "customer", "entered_at"], name="enrollment_entries"),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}:{self.customer_id}:{self.key} ({self.state})"


class JourneyStepLog(TenantModel):
    """One step an enrollment took (or an entry, exit, goal): when, with what outcome, why."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="steps")
    step_id = models.CharField(max_length=64, blank=True)
    step_type = models.CharField(max_length=30)
    outcome = models.CharField(max_length=40)
    detail = models.TextField(blank=True)
    message = models.ForeignKey(
        "notifications.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["enrollment", "occurred_at"], name="step_log_enrollment")]
