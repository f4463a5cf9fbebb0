"""What the journeys pages do besides saving a draft: publish it (after a confirmation step that
says how many customers would enter at once), pause and resume a live journey, and install a
blueprint. Each needs ``Perm.EDIT_CONTENT``; each POST answers with a redirect and a message."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views import View

from journeys.dashboard_views.pages import blueprint_rows, blueprints_module, journey_or_404
from journeys.models import JourneyStatus
from journeys.selectors import journey_publish_preview
from journeys.services import journey_publish, journey_set_status, needs_message
from postpurchase.dashboard.mixins import DashboardMixin
from postpurchase.errors import DomainError
from postpurchase.tenancy.permissions import Perm


class _JourneyAction(DashboardMixin, View):
    required_perm = Perm.EDIT_CONTENT
    http_method_names = ["post"]


class JourneyPublishView(_JourneyAction):
    """GET: the confirmation step, with how many customers would enter at once and the
    messages that means (and what the draft needs first); POST: publish."""

    http_method_names = ["get", "post"]

    def get(self, request, pk: int):
        journey = journey_or_404(pk)
        context = {"journey": journey, "preview": None, "problem": ""}
        try:
            context["preview"] = journey_publish_preview(journey=journey)
        except DomainError as error:
            context["problem"] = error.message
        else:
            if context["preview"].needs:
                context["problem"] = needs_message(context["preview"].needs)
        return TemplateResponse(request, "journeys/publish.html", context)

    def post(self, request, pk: int):
        journey = journey_or_404(pk)
        try:
            version = journey_publish(journey=journey, by=request.user)
        except DomainError as error:
            messages.error(request, f"Not published: {error.message}")
        else:
            messages.success(
                request,
                f"Published as version {version.number}: customers who enter from now on get "
                "it; those on their way keep theirs.",
            )
        return redirect("dashboard:journey_detail", pk=journey.pk)


class _StatusChange(_JourneyAction):
    """Move a journey from ``from_status`` to ``to_status``; from any other, change nothing."""

    from_status: str = ""
    to_status: str = ""
    refused = ""
    done = ""

    def post(self, request, pk: int):
        journey = journey_or_404(pk)
        if journey.status != self.from_status:
            messages.error(request, self.refused)
        else:
            try:
                journey_set_status(journey=journey, status=self.to_status)
            except DomainError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, self.done)
        return redirect("dashboard:journey_detail", pk=journey.pk)


class JourneyPauseView(_StatusChange):
    from_status, to_status = JourneyStatus.LIVE, JourneyStatus.PAUSED
    refused = "Only a live journey can be paused."
    done = "Paused: nobody enters, and customers on their way wait where they are."


class JourneyResumeView(_StatusChange):
    from_status, to_status = JourneyStatus.PAUSED, JourneyStatus.LIVE
    refused = "Only a paused journey can be resumed."
    done = "Resumed: customers enter again, and those who waited go on."


class JourneyBlueprintInstallView(_JourneyAction):
    """Install a blueprint as a new draft journey, and open it in the editor."""

    def post(self, request):
        key = request.POST.get("key", "")
        if key not in {row["key"] for row in blueprint_rows(self.merchant)}:
            raise Http404("No such blueprint.")
        try:
            journey = blueprints_module().journey_blueprint_install(
                merchant=self.merchant, key=key, by=request.user
            )
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("dashboard:journey_list")
        messages.success(
            request, f"“{journey.name}” installed as a draft. Check its steps, then publish it."
        )
        return redirect("dashboard:journey_detail", pk=journey.pk)
