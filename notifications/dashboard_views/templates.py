"""Message templates in the dashboard: the list, the editor (a new version on every save) with
its live preview and test send, and read-only views of earlier versions. Anyone may read them;
changing and test-sending need ``Perm.EDIT_CONTENT``."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views import View

from notifications.dashboard_views.preview import preview_data, template_preview
from notifications.forms import (
    MessageTemplateForm,
    PreviewForm,
    SendTestForm,
    add_template_error,
    template_submission,
    variant_formset,
    variant_initial,
)
from notifications.models import Channel, MessageTemplate, MessageTemplateVersion
from notifications.rendering import RenderError, sms_segments, variables
from notifications.selectors import (
    message_template_get,
    message_template_list,
    message_template_version_detail,
    message_template_versions,
)
from notifications.services import (
    message_template_render,
    message_template_save,
    message_template_send_test,
)
from postpurchase.dashboard.mixins import DashboardMixin, ScopedDetailView, ScopedListView
from postpurchase.errors import DomainError
from postpurchase.tenancy.permissions import Perm, role_has_perm

VERSION_HISTORY_LENGTH = 20


def variables_reference() -> list[tuple[str, str]]:
    return [(name, description) for name, (description, _) in variables().items()]


class MessageTemplateListView(ScopedListView):
    required_perm = Perm.VIEW
    model = MessageTemplate
    template_name = "notifications/templates/list.html"
    context_object_name = "templates"

    def filter_scoped(self, queryset):
        return message_template_list(templates=queryset)

    def get_context_data(self, **kwargs):
        can_edit = role_has_perm(self.membership.role, Perm.EDIT_CONTENT)
        return super().get_context_data(can_edit=can_edit, **kwargs)


class _EditorPage(DashboardMixin, View):
    """What the create and edit pages share: the forms, the preview and the page itself."""

    template_name = "notifications/templates/editor.html"

    def template(self, pk: int) -> MessageTemplate:
        template = message_template_get(pk=pk)
        if template is None:
            raise Http404("No such template.")
        return template

    def render(self, *, template, channel, form, formset, preview_form=None, test_form=None):
        preview_form = preview_form or PreviewForm()
        can_edit = role_has_perm(self.membership.role, Perm.EDIT_CONTENT)
        context = {
            "template": template,
            "channel": channel,
            "is_sms": channel == Channel.SMS,
            "form": form,
            "formset": formset,
            "preview_form": preview_form,
            "preview": self.preview(form, formset, preview_form, channel),
            "variables": variables_reference(),
            "can_edit": can_edit,
            "test_form": test_form or self.test_form(channel),
            "versions": message_template_versions(template=template, limit=VERSION_HISTORY_LENGTH)
            if template
            else [],
        }
        return TemplateResponse(self.request, self.template_name, context)

    def test_form(self, channel: str) -> SendTestForm:
        to = self.request.user.email if channel == Channel.EMAIL else ""
        return SendTestForm(initial={"to": to}, auto_id="id_test_%s")

    def preview(self, form, formset, preview_form, channel):
        """The preview of what the forms hold (as typed, or as stored on a first view)."""
        return editor_preview(self.merchant, form, formset, preview_form, channel=channel)


def _value(bound_field) -> str:
    value = bound_field.value()
    return "" if value is None else str(value)


def editor_preview(merchant, form, formset, preview_form, *, channel: str):
    """Render the variant the preview asks for (else the default language's, else the first)
    from the forms' raw values: a half-written template previews as far as it can."""
    variants = []
    for variant_form in formset.forms:
        values = {name: _value(variant_form[name]) for name in variant_form.fields}
        if values.get("locale", "").strip() and values.get("DELETE") not in ("on", "True"):
            variants.append(values)
    if not variants:
        return None
    preview_form.is_valid()
    options = preview_form.cleaned_data if preview_form.is_bound else {}
    wanted = (options.get("preview_locale") or _value(form["default_locale"])).strip()
    variant = next((v for v in variants if v["locale"].strip() == wanted), variants[0])
    data = preview_data(
        merchant=merchant,
        customer_email=options.get("preview_customer", ""),
        order_number=options.get("preview_order", ""),
    )
    variant = {**variant, "locale": variant["locale"].strip()}
    return template_preview(
        channel=channel, category=_value(form["category"]), variant=variant, data=data
    )


class MessageTemplateCreateView(_EditorPage):
    required_perm = Perm.EDIT_CONTENT

    def channel(self) -> str:
        wanted = self.request.POST.get("channel") or self.request.GET.get("channel")
        return wanted if wanted in Channel.values else Channel.EMAIL

    def get(self, request):
        channel = self.channel()
        initial = {
            "channel": channel,
            "default_locale": self.merchant.default_locale or "en",
            "category": "transactional",
        }
        form = MessageTemplateForm(initial=initial)
        formset = variant_formset(channel, initial=[{"locale": initial["default_locale"]}])
        return self.render(template=None, channel=channel, form=form, formset=formset)

    def post(self, request):
        channel = self.channel()
        form = MessageTemplateForm(request.POST)
        formset = variant_formset(channel, request.POST)
        preview_form = PreviewForm(request.POST)
        page = {"template": None, "channel": channel, "form": form, "formset": formset}
        if not (form.is_valid() and formset.is_valid()):
            return self.render(**page, preview_form=preview_form)
        submission = template_submission(form, formset, channel=channel)
        try:
            template = message_template_save(
                merchant=self.merchant, payload=submission.payload, by=request.user
            )
        except DomainError as error:
            add_template_error(form, formset, submission, error)
            return self.render(**page, preview_form=preview_form)
        messages.success(request, f"Template “{template.name}” created.")
        return redirect("dashboard:message_template_detail", pk=template.pk)


class MessageTemplateDetailView(_EditorPage):
    """The editor, on the current version; read-only for roles that may not edit."""

    required_perm = Perm.VIEW

    def render_stored(self, template: MessageTemplate, **extra):
        """The editor showing the template's current version."""
        form = MessageTemplateForm(initial=MessageTemplateForm.initial_for(template))
        initial = variant_initial(template.current_version)
        formset = variant_formset(template.channel, initial=initial)
        return self.render(
            template=template, channel=template.channel, form=form, formset=formset, **extra
        )

    def get(self, request, pk: int):
        return self.render_stored(self.template(pk))


class MessageTemplateSaveView(MessageTemplateDetailView):
    required_perm = Perm.EDIT_CONTENT
    http_method_names = ["post"]

    def post(self, request, pk: int):
        template = self.template(pk)
        form = MessageTemplateForm(request.POST)
        formset = variant_formset(template.channel, request.POST)
        preview_form = PreviewForm(request.POST)
        page = {"template": template, "channel": template.channel, "form": form}
        page["formset"] = formset
        if not (form.is_valid() and formset.is_valid()):
            return self.render(**page, preview_form=preview_form)
        submission = template_submission(form, formset, channel=template.channel)
        try:
            template = message_template_save(
                merchant=self.merchant,
                payload=submission.payload,
                template=template,
                by=request.user,
            )
        except DomainError as error:
            add_template_error(form, formset, submission, error)
            return self.render(**page, preview_form=preview_form)
        number = template.current_version.number
        messages.success(request, f"Saved as version {number}; new messages use it.")
        return redirect("dashboard:message_template_detail", pk=template.pk)


class MessageTemplatePreviewView(DashboardMixin, View):
    """The preview panel for the editor's form as it stands, asked for by htmx as one types."""

    required_perm = Perm.EDIT_CONTENT
    http_method_names = ["post"]

    def post(self, request):
        channel = request.POST.get("channel")
        channel = channel if channel in Channel.values else Channel.EMAIL
        form = MessageTemplateForm(request.POST)
        # A missing or tampered management form makes a formset of no forms: no preview.
        formset = variant_formset(channel, request.POST)
        preview = editor_preview(
            self.merchant, form, formset, PreviewForm(request.POST), channel=channel
        )
        context = {"preview": preview, "is_sms": channel == Channel.SMS}
        return TemplateResponse(request, "notifications/templates/_preview.html", context)


class MessageTemplateSendTestView(MessageTemplateDetailView):
    """Send the template's saved version, with the sample data, to a staff member."""

    required_perm = Perm.EDIT_CONTENT
    http_method_names = ["post"]

    def post(self, request, pk: int):
        template = self.template(pk)
        test_form = SendTestForm(request.POST, auto_id="id_test_%s")
        if test_form.is_valid():
            try:
                message = message_template_send_test(
                    merchant=self.merchant,
                    template=template,
                    to=test_form.cleaned_data["to"],
                    by=request.user,
                )
            except DomainError as error:
                test_form.add_error("to" if error.field == "to" else None, error.message)
            except RenderError as error:
                test_form.add_error(None, f"The template fails on the sample data: {error}")
            else:
                messages.success(request, f"Test queued to {message.to}.")
                return redirect("dashboard:message_detail", pk=message.pk)
        return self.render_stored(template, test_form=test_form)


class MessageTemplateVersionView(ScopedDetailView):
    """One saved version, read-only: its sources and how it renders with the sample data."""

    required_perm = Perm.VIEW
    model = MessageTemplateVersion
    template_name = "notifications/templates/version.html"
    context_object_name = "version"

    def filter_scoped(self, queryset):
        return message_template_version_detail(versions=queryset)

    def get_context_data(self, **kwargs):
        version = self.object
        template = version.template
        variants = list(version.variants.all())
        try:
            rendered = message_template_render(
                template=template,
                context=preview_data(merchant=self.merchant).context,
                locale=template.default_locale,
                version=version,
            )
            problem = ""
        except (RenderError, DomainError) as exc:
            rendered, problem = None, str(exc)
        return super().get_context_data(
            template=template,
            variants=variants,
            rendered=rendered,
            render_problem=problem,
            is_sms=template.channel == Channel.SMS,
            segments=sms_segments(rendered.sms) if rendered and rendered.sms else None,
            is_current=template.current_version_id == version.pk,
            **kwargs,
        )
