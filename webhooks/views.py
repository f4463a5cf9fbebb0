"""Dashboard pages for outbound webhooks (Settings → Webhooks), for roles that may manage
settings. A signing secret is in the one response that creates it and nowhere else."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.views import View

from postpurchase.dashboard.forms import add_domain_error
from postpurchase.dashboard.mixins import DashboardMixin
from postpurchase.errors import DomainError
from postpurchase.tenancy.permissions import Perm
from webhooks import selectors, services
from webhooks.forms import EndpointForm
from webhooks.models import WebhookEndpoint


class _WebhooksPage(DashboardMixin, View):
    required_perm = Perm.MANAGE_SETTINGS

    def endpoint(self, pk: int) -> WebhookEndpoint:
        endpoint = selectors.webhook_endpoint_get(endpoint_id=pk)
        if endpoint is None:
            raise Http404("No such webhook endpoint.")
        return endpoint

    def respond(self, template: str, context: dict) -> TemplateResponse:
        response = TemplateResponse(self.request, template, context)
        add_never_cache_headers(response)  # pages may carry a secret
        return response


class WebhooksView(_WebhooksPage):
    """The endpoints with their health, and the form that adds one."""

    def render(self, form: EndpointForm, *, created: WebhookEndpoint | None = None):
        context = {
            "form": form,
            "created": created,
            "endpoints": selectors.webhook_endpoints(),
        }
        return self.respond("webhooks/list.html", context)

    def get(self, request):
        return self.render(EndpointForm())

    def post(self, request):
        form = EndpointForm(request.POST)
        if not form.is_valid():
            return self.render(form)
        try:
            endpoint = services.webhook_endpoint_create(
                merchant=self.merchant, **form.endpoint_data()
            )
        except DomainError as error:
            add_domain_error(form, error)
            return self.render(form)
        return self.render(EndpointForm(), created=endpoint)


class WebhookDetailView(_WebhooksPage):
    """One endpoint: its settings, actions and delivery log."""

    def render(self, endpoint, form: EndpointForm, *, secret: str | None = None):
        context = {
            "endpoint": endpoint,
            "form": form,
            "secret": secret,
            "deliveries": selectors.webhook_deliveries(endpoint=endpoint)[
                : selectors.DELIVERY_LOG_LENGTH
            ],
        }
        return self.respond("webhooks/detail.html", context)

    def get(self, request, pk: int):
        endpoint = self.endpoint(pk)
        return self.render(endpoint, EndpointForm.for_endpoint(endpoint))

    def post(self, request, pk: int):
        endpoint = self.endpoint(pk)
        form = EndpointForm(request.POST)
        if not form.is_valid():
            return self.render(endpoint, form)
        try:
            services.webhook_endpoint_update(endpoint=endpoint, data=form.endpoint_data())
        except DomainError as error:
            add_domain_error(form, error)
            return self.render(endpoint, form)
        messages.success(request, "Endpoint saved.")
        return redirect("dashboard:settings_webhook_detail", pk=endpoint.pk)


class WebhookEnableView(_WebhooksPage):
    http_method_names = ["post"]

    def post(self, request, pk: int):
        services.webhook_endpoint_enable(endpoint=self.endpoint(pk))
        messages.success(request, "Endpoint enabled: new events will be sent to it.")
        return redirect("dashboard:settings_webhook_detail", pk=pk)


class WebhookDisableView(_WebhooksPage):
    http_method_names = ["post"]

    def post(self, request, pk: int):
        services.webhook_endpoint_disable(
            endpoint=self.endpoint(pk), reason=f"Disabled by {request.user.email}."
        )
        messages.success(request, "Endpoint disabled: nothing more will be sent to it.")
        return redirect("dashboard:settings_webhook_detail", pk=pk)


class WebhookRotateSecretView(WebhookDetailView):
    http_method_names = ["post"]

    def post(self, request, pk: int):
        endpoint = services.webhook_endpoint_rotate_secret(endpoint=self.endpoint(pk))
        return self.render(endpoint, EndpointForm.for_endpoint(endpoint), secret=endpoint.secret)


class WebhookSendTestView(_WebhooksPage):
    http_method_names = ["post"]

    def post(self, request, pk: int):
        try:
            services.webhook_endpoint_send_test(endpoint=self.endpoint(pk))
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Test event queued: its outcome appears below shortly.")
        return redirect("dashboard:settings_webhook_detail", pk=pk)


class WebhookDeleteView(_WebhooksPage):
    http_method_names = ["post"]

    def post(self, request, pk: int):
        endpoint = self.endpoint(pk)
        services.webhook_endpoint_delete(endpoint=endpoint)
        messages.success(request, f"Endpoint {endpoint.url} deleted.")
        return redirect("dashboard:settings_webhooks")
