"""What the journeys pages count, each in one aggregate query: enrollments by how they stand,
per journey for the list and for one journey's page."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from pydantic import ValidationError

from journeys import schema
from journeys.models import OPEN_STATES, Enrollment, EnrollmentState, Journey

# name → which enrollments it counts (in progress: active or waiting for an event)
COUNTS = {
    "in_progress": {"state__in": OPEN_STATES},
    "completed": {"state": EnrollmentState.COMPLETED},
    "exited": {"state": EnrollmentState.EXITED},
    "converted": {"converted_at__isnull": False},
    "holdout": {"holdout": True},
}


def journeys_with_counts(journeys: QuerySet[Journey]) -> QuerySet[Journey]:
    """``journeys``, each with ``<name>_count`` for every name of ``COUNTS``: one query, a join
    to the enrollments grouped by journey."""
    counts = {
        f"{name}_count": Count(
            "enrollments",
            filter=Q(**{f"enrollments__{key}": value for key, value in lookups.items()}),
        )
        for name, lookups in COUNTS.items()
    }
    return journeys.select_related("live_version").annotate(**counts)


def journey_counts(journey: Journey) -> dict[str, int]:
    """Every name of ``COUNTS`` for one journey, with ``total`` and ``failed``."""
    extra = {"total": Count("id"), "failed": Count("id", filter=Q(state=EnrollmentState.FAILED))}
    counts = {name: Count("id", filter=Q(**lookups)) for name, lookups in COUNTS.items()}
    return Enrollment.objects.filter(journey=journey).aggregate(**counts, **extra)


def state_counts(journey: Journey) -> dict[str, int]:
    """How many of a journey's enrollments are in each state (a state with none is left out)."""
    rows = Enrollment.objects.filter(journey=journey).values_list("state").annotate(n=Count("id"))
    return dict(rows.order_by())


def has_unpublished_changes(journey: Journey) -> bool:
    """Whether publishing the draft would change what new entrants get."""
    if journey.live_version is None:
        return True
    try:
        draft = schema.Definition.model_validate(journey.draft)
    except ValidationError:
        return True
    # compared parsed: a version stored before a field was added reads with its default
    return draft != schema.Definition.model_validate(journey.live_version.definition)
