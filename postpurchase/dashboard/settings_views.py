"""Settings pages: brand, API keys and team. Each is for the roles that hold its permission."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.views import View
from django.views.generic import FormView

from postpurchase.dashboard.forms import (
    ApiKeyCreateForm,
    BrandSettingsForm,
    MemberRoleForm,
    add_domain_error,
)
from postpurchase.dashboard.mixins import DashboardMixin
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.permissions import Perm, role_has_perm
from postpurchase.tenancy.selectors import (
    api_key_get,
    api_keys_for_merchant,
    team_member_get,
    team_members,
)
from postpurchase.tenancy.services import (
    API_KEY_PREFIX,
    api_key_create,
    api_key_revoke,
    merchant_brand_update,
    team_member_role_change,
)


class BrandSettingsView(DashboardMixin, FormView):
    required_perm = Perm.MANAGE_SETTINGS
    template_name = "dashboard/settings/brand.html"
    form_class = BrandSettingsForm

    def get_form_kwargs(self):
        # A fresh copy: validation writes into the instance, and the page header must keep
        # showing the saved merchant while the form shows what was typed.
        return {**super().get_form_kwargs(), "instance": Merchant.objects.get(pk=self.merchant.pk)}

    def form_valid(self, form):
        try:
            merchant_brand_update(merchant=form.instance, data=form.brand_changes())
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, "Brand settings saved.")
        return redirect("dashboard:settings_brand")


class ApiKeysView(DashboardMixin, View):
    """Lists the keys and creates one. A new key's secret is in the one response that creates
    it and nowhere else: not in the session, not in a message, not in a cache."""

    required_perm = Perm.MANAGE_API_KEYS
    template_name = "dashboard/settings/api_keys.html"

    def render(self, form, *, issued=None):
        context = {
            "form": form,
            "issued": issued,
            "api_keys": api_keys_for_merchant(merchant=self.merchant),
            "key_prefix": API_KEY_PREFIX,
        }
        response = TemplateResponse(self.request, self.template_name, context)
        add_never_cache_headers(response)
        return response

    def get(self, request):
        return self.render(ApiKeyCreateForm())

    def post(self, request):
        form = ApiKeyCreateForm(request.POST)
        if not form.is_valid():
            return self.render(form)
        try:
            issued = api_key_create(
                merchant=self.merchant,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                created_by=request.user,
            )
        except DomainError as error:
            add_domain_error(form, error)
            return self.render(form)
        return self.render(ApiKeyCreateForm(), issued=issued)


class ApiKeyRevokeView(DashboardMixin, View):
    required_perm = Perm.MANAGE_API_KEYS
    http_method_names = ["post"]

    def post(self, request, pk: int):
        api_key = api_key_get(merchant=self.merchant, api_key_id=pk)
        if api_key is None:
            raise Http404("No such API key.")
        api_key_revoke(api_key=api_key)
        messages.success(request, f"The key “{api_key.name}” is revoked.")
        return redirect("dashboard:settings_api_keys")


class TeamView(DashboardMixin, View):
    required_perm = Perm.MANAGE_TEAM
    template_name = "dashboard/settings/team.html"

    def render(self, *, bound=None):
        """The team with a role form per member; ``bound`` is a submitted form to show instead
        of that member's blank one, as ``(membership_id, form)``."""
        rows = []
        for membership in team_members(merchant=self.merchant):
            form = MemberRoleForm(
                initial={"role": membership.role}, auto_id=f"id_member{membership.pk}_%s"
            )
            if bound is not None and bound[0] == membership.pk:
                form = bound[1]
            rows.append({"membership": membership, "form": form})
        context = {"rows": rows}
        return TemplateResponse(self.request, self.template_name, context)

    def get(self, request):
        return self.render()


class TeamMemberRoleView(TeamView):
    http_method_names = ["post"]

    def post(self, request, pk: int):
        membership = team_member_get(merchant=self.merchant, membership_id=pk)
        if membership is None:
            raise Http404("No such member.")
        form = MemberRoleForm(request.POST, auto_id=f"id_member{pk}_%s")
        if not form.is_valid():
            return self.render(bound=(membership.pk, form))
        try:
            membership = team_member_role_change(
                membership=membership, role=form.cleaned_data["role"]
            )
        except DomainError as error:
            add_domain_error(form, error)
            return self.render(bound=(membership.pk, form))
        messages.success(
            request, f"{membership.user.email} is now {membership.get_role_display().lower()}."
        )
        if membership.pk == self.membership.pk and not role_has_perm(
            membership.role, Perm.MANAGE_TEAM
        ):
            return redirect("dashboard:home")  # they just gave away the right to see this page
        return redirect("dashboard:settings_team")
