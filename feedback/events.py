"""The ``survey`` namespace, kept for the feedback pillar before it records anything, so that no
integrator's custom event takes the names it will use."""

from __future__ import annotations

from postpurchase.events.catalogue import event_namespace_reserve

OWNER = "feedback"


def events_register() -> None:
    """Reserve the namespace (the app's ``ready()``)."""
    event_namespace_reserve(
        name="survey",
        owner=OWNER,
        description="Surveys and their answers (survey.answered), the feedback pillar to come.",
    )
