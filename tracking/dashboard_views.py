"""The dashboard's Tracking page: the shipments at risk (open delay incidents, with the shopper's
views of each parcel's tracking page: checking again and again is the "where is my order?"
signal), how well the delivery estimates held (calibration), and the delay settings. Included by
the dashboard at ``tracking/``, in its namespace.

Every member may read all three; saving the settings needs ``Perm.MANAGE_SETTINGS``."""

from __future__ import annotations

from django.contrib import messages
from django.db import connection
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views import View

from postpurchase.dashboard.forms import add_domain_error
from postpurchase.dashboard.mixins import DashboardMixin, ScopedListView
from postpurchase.errors import DomainError
from postpurchase.tenancy.permissions import Perm, role_has_perm
from tracking.forms import AtRiskFilterForm, DelaySettingsForm
from tracking.models import DELAY_SETTINGS, DelayIncident
from tracking.selectors import (
    CALIBRATION_DAYS,
    RECENT_VIEW_DAYS,
    calibration,
    delay_settings_read,
    incident_counts,
    incidents_open,
)
from tracking.services import delay_settings_update

INCIDENTS_PER_PAGE = 50


class AtRiskView(ScopedListView):
    required_perm = Perm.VIEW
    model = DelayIncident
    paginate_by = INCIDENTS_PER_PAGE
    template_name = "tracking/at_risk.html"
    context_object_name = "incidents"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.now = timezone.now()
        self.filter_form = AtRiskFilterForm(request.GET)

    def filter_scoped(self, queryset):
        return incidents_open(incidents=queryset, now=self.now, **self.filter_form.filters())

    def get_context_data(self, **kwargs):
        filters = self.filter_form.filters()
        counts = incident_counts(now=self.now)
        carriers = [carrier for carrier, _ in counts.by_carrier if carrier]
        if filters["carrier"] and filters["carrier"] not in carriers:
            carriers.append(filters["carrier"])
        return super().get_context_data(
            now=self.now,
            filters=filters,
            is_filtered=any(filters[name] for name in ("reason", "carrier", "age")),
            filter_form=self.filter_form,
            counts=counts,
            carriers=carriers,
            recent_days=RECENT_VIEW_DAYS,
            # the scan is PostgreSQL's (tracking/delays.py): an embedded install never runs it
            scan_runs=connection.vendor == "postgresql",
            **kwargs,
        )


class CalibrationView(DashboardMixin, View):
    required_perm = Perm.VIEW

    def get(self, request):
        lines = calibration(merchant=self.merchant, now=timezone.now())
        context = {
            "lines": lines,
            "days": CALIBRATION_DAYS,
            "delivered": sum(line.delivered for line in lines),
        }
        return TemplateResponse(request, "tracking/calibration.html", context)


class DelaySettingsView(DashboardMixin, View):
    required_perm = Perm.VIEW
    template_name = "tracking/settings.html"

    def render(self, form: DelaySettingsForm | None = None):
        stored = delay_settings_read(merchant=self.merchant)
        context = {
            "form": form or DelaySettingsForm(initial=DelaySettingsForm.initial_for(stored)),
            "can_change": role_has_perm(self.membership.role, Perm.MANAGE_SETTINGS),
            "defaults": {name: default for name, (default, _, _) in DELAY_SETTINGS.items()},
        }
        return TemplateResponse(self.request, self.template_name, context)

    def get(self, request):
        return self.render()


class DelaySettingsSaveView(DelaySettingsView):
    required_perm = Perm.MANAGE_SETTINGS
    http_method_names = ["post"]

    def post(self, request):
        form = DelaySettingsForm(request.POST)
        if not form.is_valid():
            return self.render(form)
        try:
            delay_settings_update(merchant=self.merchant, values=form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
            return self.render(form)
        messages.success(request, "Delay settings saved. The next hourly scan uses them.")
        return redirect("dashboard:tracking_settings")
