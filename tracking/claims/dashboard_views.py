"""The merchant's claim pages (included by the dashboard at ``tracking/claims/``): the list by
state, a claim with its photos and the parcel's timeline, the decision (approve or reject, with
a message to the shopper), the resolution (reship or refund), each photo served to signed-in
members only, and the protection settings.

Reading needs ``VIEW``; deciding, resolving and the settings need ``MANAGE_SETTINGS``: a claim's
resolution gives goods or money away, as the store's owners and admins decide."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views import View
from django.views.generic import FormView

from postpurchase.dashboard.forms import add_domain_error
from postpurchase.dashboard.mixins import DashboardMixin, ScopedDetailView, ScopedListView
from postpurchase.errors import DomainError
from postpurchase.tenancy.permissions import Perm, role_has_perm
from tracking.claims.forms import (
    ClaimDecisionForm,
    ClaimFilterForm,
    ClaimResolveForm,
    ProtectionSettingsForm,
)
from tracking.claims.models import Claim, ClaimPhoto, ClaimState
from tracking.claims.rules import REFUNDED
from tracking.claims.selectors import claim_list, claim_state_counts, claim_timeline
from tracking.claims.services import (
    claim_approve,
    claim_reject,
    claim_resolve,
    protection_settings_get,
    protection_settings_update,
    shipment_value,
)

CLAIMS_PER_PAGE = 50


class ClaimListView(ScopedListView):
    required_perm = Perm.VIEW
    model = Claim
    paginate_by = CLAIMS_PER_PAGE
    template_name = "tracking/claims/list.html"
    context_object_name = "claims"

    def state(self) -> str:
        form = ClaimFilterForm(self.request.GET)
        return form.cleaned_data["state"] if form.is_valid() else ""

    def filter_scoped(self, queryset):
        return claim_list(claims=queryset, state=self.state())

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            states=[("", "All"), *ClaimState.choices],
            current_state=self.state(),
            counts=claim_state_counts(),
            **kwargs,
        )


class ClaimDetailView(ScopedDetailView):
    required_perm = Perm.VIEW
    model = Claim
    template_name = "tracking/claims/detail.html"
    context_object_name = "claim"

    def filter_scoped(self, queryset):
        return queryset.select_related("order", "shipment", "customer", "replacement_order")

    def get_context_data(self, **kwargs):
        claim = self.object
        order = claim.order
        return super().get_context_data(
            photos=list(ClaimPhoto.objects.filter(claim=claim)),
            timeline=claim_timeline(claim),
            parcel_value=shipment_value(claim.shipment),
            partially_refunded=order.financial_status == "partially_refunded",
            refunded=order.financial_status in REFUNDED,
            can_decide=role_has_perm(self.membership.role, Perm.MANAGE_SETTINGS),
            decision_form=kwargs.pop("decision_form", None) or ClaimDecisionForm(),
            resolve_form=kwargs.pop("resolve_form", None) or ClaimResolveForm(),
            **kwargs,
        )


class _ClaimAction(ScopedDetailView):
    """A POST on one claim; errors show on the claim's page, nothing changed."""

    required_perm = Perm.MANAGE_SETTINGS
    model = Claim
    http_method_names = ["post"]
    template_name = ClaimDetailView.template_name
    context_object_name = "claim"
    form_class: type
    form_name: str

    def post(self, request, pk):
        self.object = self.get_object()
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                message = self.act(self.object, form.cleaned_data)
            except DomainError as error:
                add_domain_error(form, error)
            else:
                messages.success(request, message)
                return redirect("dashboard:claim_detail", pk=self.object.pk)
        detail = ClaimDetailView(request=request, kwargs={"pk": pk}, object=self.object)
        detail.object = Claim.objects.select_related(
            "order", "shipment", "customer", "replacement_order"
        ).get(pk=self.object.pk)
        context = detail.get_context_data(**{self.form_name: form})
        return TemplateResponse(request, self.template_name, context, status=400)


class ClaimDecideView(_ClaimAction):
    form_class = ClaimDecisionForm
    form_name = "decision_form"

    def act(self, claim, data) -> str:
        if data["decision"] == "approve":
            claim_approve(claim=claim, message=data["message"])
            return f"Claim {claim.reference} approved. Resolve it with a reship or a refund."
        claim_reject(claim=claim, message=data["message"])
        return f"Claim {claim.reference} rejected; the shopper sees your message."


class ClaimResolveView(_ClaimAction):
    form_class = ClaimResolveForm
    form_name = "resolve_form"

    def act(self, claim, data) -> str:
        resolved = claim_resolve(claim=claim, resolution=data["resolution"])
        if resolved.resolution == "reship":
            return (
                f"Claim {claim.reference} resolved: replacement order "
                f"{resolved.replacement_order.number} placed at no charge."
            )
        return (
            f"Claim {claim.reference} resolved as a refund of {resolved.refund_amount} "
            f"{resolved.order.currency}: refund it in your store."
        )


class ClaimPhotoView(DashboardMixin, View):
    """One photo, to the merchant's signed-in members only; another merchant's is a 404."""

    required_perm = Perm.VIEW

    def get(self, request, pk):
        photo = ClaimPhoto.objects.filter(pk=pk).first()
        if photo is None:
            raise Http404("no such photo")
        try:
            handle = photo.file.open("rb")
        except FileNotFoundError:
            raise Http404("the photo's file is gone") from None
        response = FileResponse(handle, content_type=photo.content_type)
        # Shown in the page when a browser can (JPEG, PNG, WebP); HEIC is downloaded.
        disposition = "attachment" if photo.content_type == "image/heic" else "inline"
        response["Content-Disposition"] = (
            f'{disposition}; filename="claim-photo-{photo.pk}.{photo.extension}"'
        )
        # A shopper's upload, opened on its own: it may run nothing, load nothing.
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ProtectionSettingsView(DashboardMixin, FormView):
    required_perm = Perm.MANAGE_SETTINGS
    template_name = "tracking/claims/settings.html"
    form_class = ProtectionSettingsForm

    def get_initial(self):
        return ProtectionSettingsForm.initial_from(protection_settings_get(merchant=self.merchant))

    def form_valid(self, form):
        try:
            protection_settings_update(merchant=self.merchant, values=form.values())
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, "Protection settings saved.")
        return redirect("dashboard:settings_protection")
