"""A journey's enrollments (filtered by state) and one enrollment's step log, each step with the
message it sent in the message log."""

from __future__ import annotations

from journeys.dashboard_views.describe import ENROLLMENT_TONES, outcome_tone, step_in_words
from journeys.dashboard_views.pages import journey_or_404
from journeys.models import Enrollment, EnrollmentState
from journeys.selectors import journey_counts
from postpurchase.dashboard.mixins import ScopedDetailView, ScopedListView
from postpurchase.tenancy.permissions import Perm

ENROLLMENTS_PER_PAGE = 50


class JourneyEnrollmentListView(ScopedListView):
    required_perm = Perm.VIEW
    model = Enrollment
    paginate_by = ENROLLMENTS_PER_PAGE
    template_name = "journeys/enrollments.html"
    context_object_name = "enrollments"

    def get(self, request, *args, **kwargs):
        self.journey = journey_or_404(kwargs["pk"])
        return super().get(request, *args, **kwargs)

    def state(self) -> str:
        state = self.request.GET.get("state", "")
        return state if state in EnrollmentState.values else ""

    def filter_scoped(self, queryset):
        queryset = queryset.filter(journey=self.journey).select_related("customer", "version")
        if self.state():
            queryset = queryset.filter(state=self.state())
        return queryset.order_by("-entered_at", "-id")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        for enrollment in context["enrollments"]:
            enrollment.tone = ENROLLMENT_TONES.get(enrollment.state, "neutral")
        counts = journey_counts(journey=self.journey)
        tabs = [("", "All", counts["entered"])] + [
            (value, label, counts[value]) for value, label in EnrollmentState.choices
        ]
        context.update(journey=self.journey, state_tabs=tabs, current_state=self.state())
        return context


class EnrollmentDetailView(ScopedDetailView):
    required_perm = Perm.VIEW
    model = Enrollment
    template_name = "journeys/enrollment.html"
    context_object_name = "enrollment"

    def filter_scoped(self, queryset):
        return queryset.select_related("journey", "version", "customer")

    def get_context_data(self, **kwargs):
        enrollment = self.object
        enrollment.tone = ENROLLMENT_TONES.get(enrollment.state, "neutral")
        log = list(enrollment.steps.select_related("message").order_by("occurred_at", "id"))
        for entry in log:
            entry.tone = outcome_tone(entry.outcome)
        steps = {s.get("id"): s for s in enrollment.version.definition.get("steps", [])}
        current = steps.get(enrollment.current_step)
        order_id = (enrollment.context or {}).get("order_id")
        return super().get_context_data(
            log=log,
            current_step_words=step_in_words(current) if current else "",
            order_id=order_id if isinstance(order_id, int) else None,
            **kwargs,
        )
