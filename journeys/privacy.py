"""The journeys app's part of an erasure or export (``orders.privacy``, registered in
``JourneysConfig.ready``): a customer's enrollments and the log of their steps.

Erased: personal values in each enrollment's context (the trigger's payload, which an
integrator's custom event may fill with contact details) and in what it waits for, and any step
log entry that quotes the person. An enrollment still running exits ("customer_erased"): a
journey has nobody left to write to. Kept: which journeys they went through, when, how far, and
what they converted for (the merchant's journey figures).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from journeys.models import OPEN_STATES, Enrollment, EnrollmentState, JourneyStepLog
from orders.privacy import PrivacyTarget
from postpurchase.tenancy.models import Merchant

ERASED = "customer_erased"


def _open_exit(merchant: Merchant, target: PrivacyTarget, now: datetime) -> set[int]:
    ids = list(
        Enrollment.objects.select_for_update()
        .filter(customer_id__in=target.customer_ids, state__in=OPEN_STATES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return set()
    Enrollment.objects.filter(pk__in=ids).update(
        state=EnrollmentState.EXITED,
        exit_reason=ERASED,
        finished_at=now,
        next_run_at=None,
        wait_event="",
        wait_match={},
    )
    JourneyStepLog.objects.bulk_create(
        JourneyStepLog(
            merchant=merchant,
            enrollment_id=pk,
            step_type="exit",
            outcome="exited",
            detail=ERASED,
            occurred_at=now,
        )
        for pk in ids
    )
    return set(ids)


def enrollments_erase(
    *, merchant: Merchant, target: PrivacyTarget, now: datetime
) -> dict[str, int]:
    """The journeys part's eraser: how many enrollments changed (exited or scrubbed)."""
    changed_ids = _open_exit(merchant, target, now)
    changed: list[Enrollment] = []
    enrollments = Enrollment.objects.filter(customer_id__in=target.customer_ids)
    for enrollment in enrollments.only("id", "context", "wait_match"):
        context, wait_match = target.scrub(enrollment.context), target.scrub(enrollment.wait_match)
        if (context, wait_match) != (enrollment.context, enrollment.wait_match):
            enrollment.context, enrollment.wait_match = context, wait_match
            changed.append(enrollment)
    if changed:
        Enrollment.objects.bulk_update(changed, ["context", "wait_match"])
    logs = [
        log
        for log in JourneyStepLog.objects.filter(
            enrollment__customer_id__in=target.customer_ids
        ).only("id", "enrollment_id", "detail")
        if target.mentions(log.detail)
    ]
    for log in logs:
        log.detail = target.scrub_text(log.detail)
    if logs:
        JourneyStepLog.objects.bulk_update(logs, ["detail"])
    changed_ids |= {e.pk for e in changed} | {log.enrollment_id for log in logs}
    return {"enrollments": len(changed_ids)}


def enrollments_export(*, merchant: Merchant, target: PrivacyTarget) -> dict[str, Any]:
    """The journeys they went through: when, how far, why they left, and what the journey
    held about them."""
    enrollments = (
        Enrollment.objects.filter(customer_id__in=target.customer_ids)
        .select_related("journey")
        .order_by("entered_at", "id")
    )
    return {
        "journeys": [
            {
                "journey": e.journey.name,
                "state": e.state,
                "current_step": e.current_step,
                "entered_at": e.entered_at.isoformat(),
                "finished_at": e.finished_at.isoformat() if e.finished_at else None,
                "exit_reason": e.exit_reason,
                "converted_at": e.converted_at.isoformat() if e.converted_at else None,
                "context": e.context,
            }
            for e in enrollments
        ]
    }
