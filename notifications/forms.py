"""Dashboard forms for messages: they gather input and nothing else; the services check it and
write (``message_template_save``, ``channel_settings_save``, ``sending_policy_save``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django import forms

from notifications.models import (
    Category,
    Channel,
    Kind,
    MessageStatus,
    MessageTemplate,
    MessageTemplateVersion,
)
from notifications.schemas import EMAIL_PARTS, SMS_PARTS
from postpurchase.errors import DomainError

# --- the message log --------------------------------------------------------------------------


class MessageFilterForm(forms.Form):
    """The log's filters; ``template`` offers the merchant's own templates only."""

    channel = forms.ChoiceField(choices=[("", "Any channel"), *Channel.choices], required=False)
    status = forms.ChoiceField(choices=[("", "Any status"), *MessageStatus.choices], required=False)
    template = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    customer = forms.CharField(label="Recipient", max_length=254, required=False, strip=True)
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, templates=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [("", "Any template")] + [
            (template.pk, template.name) for template in templates
        ]

    def filters(self) -> dict:
        """The valid filters; one that does not parse is left out rather than failing the
        page (the form shows why next to it)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if value not in (None, "") and name not in self.errors
        }

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if isinstance(start, date) and isinstance(end, date) and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned


# --- the template editor ----------------------------------------------------------------------

SOURCE_ATTRS = {"spellcheck": "false", "autocomplete": "off", "class": "source"}


class MessageTemplateForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="What your team calls it.")
    key = forms.CharField(
        max_length=100,
        help_text="How journeys name it: lower-case letters, digits, - and _.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    channel = forms.ChoiceField(choices=Channel.choices, widget=forms.HiddenInput)
    category = forms.ChoiceField(
        choices=Category.choices,
        help_text="Marketing messages need the shopper's consent and count toward the cap.",
    )
    kind = forms.ChoiceField(choices=Kind.choices, label="Kind of message")
    default_locale = forms.CharField(
        max_length=16,
        label="Default language",
        help_text="Used when no variant matches the shopper's language, e.g. en.",
    )

    @classmethod
    def initial_for(cls, template: MessageTemplate) -> dict:
        return {
            "name": template.name,
            "key": template.key,
            "channel": template.channel,
            "category": template.category,
            "kind": template.kind,
            "default_locale": template.default_locale,
        }


class VariantForm(forms.Form):
    """One language's content. Every part is a template source: whitespace is kept."""

    locale = forms.CharField(
        max_length=16,
        label="Language",
        help_text="e.g. en, fr or en-GB.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    subject = forms.CharField(required=False, strip=False, max_length=1000)
    preheader = forms.CharField(
        required=False,
        strip=False,
        max_length=1000,
        help_text="The line inboxes show after the subject.",
    )
    html_body = forms.CharField(
        label="HTML body",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={**SOURCE_ATTRS, "rows": 14}),
    )
    text_body = forms.CharField(
        label="Text body",
        required=False,
        strip=False,
        help_text="Leave empty to make it from the HTML body.",
        widget=forms.Textarea(attrs={**SOURCE_ATTRS, "rows": 6}),
    )
    sms_body = forms.CharField(
        label="Text message",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={**SOURCE_ATTRS, "rows": 5}),
    )

    def __init__(self, *args, channel: str = Channel.EMAIL, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The part the channel cannot do without; the "add a language" form, left empty, is
        # not checked at all (the formset permits it empty).
        self.fields["sms_body" if channel == Channel.SMS else "subject"].required = True

    def is_blank(self) -> bool:
        return not any(str(value).strip() for value in self.cleaned_data.values() if value)


VariantFormSet = forms.formset_factory(
    VariantForm, extra=1, can_delete=True, max_num=50, absolute_max=50, validate_max=True
)


def variant_formset(channel: str, data=None, *, initial=None):
    """The editor's variants for a template of ``channel``, bound to ``data`` when posted."""
    return VariantFormSet(
        data, prefix="variants", initial=initial, form_kwargs={"channel": channel}
    )


def variant_initial(version: MessageTemplateVersion | None) -> list[dict]:
    if version is None:
        return []
    return [
        {
            "locale": variant.locale,
            "subject": variant.subject,
            "preheader": variant.preheader,
            "html_body": variant.html_body,
            "text_body": variant.text_body,
            "sms_body": variant.sms_body,
        }
        for variant in version.variants.all()
    ]


class PreviewForm(forms.Form):
    """What the preview shows: which language, and sample data or a real shopper's."""

    preview_locale = forms.CharField(max_length=16, required=False, label="Language")
    preview_customer = forms.CharField(
        max_length=254,
        required=False,
        label="Customer email",
        help_text="Preview with this customer's details.",
    )
    preview_order = forms.CharField(
        max_length=64,
        required=False,
        label="Order number",
        help_text="Preview with this order (and its customer and first parcel).",
    )


@dataclass
class TemplateSubmission:
    """The editor's forms read into a ``message_template_save`` payload; ``form_of`` says which
    variant form each payload variant came from, so the service's field paths
    (``variants[0].html_body``) can be shown next to the right field."""

    payload: dict
    form_of: list[int]


def template_submission(form: MessageTemplateForm, formset, *, channel: str) -> TemplateSubmission:
    """Both must be valid. Blank variant forms (the "add a language" one left empty) and those
    marked for removal are left out; only the channel's own parts are sent."""
    parts = EMAIL_PARTS if channel == Channel.EMAIL else SMS_PARTS
    variants, form_of = [], []
    for index, variant_form in enumerate(formset.forms):
        data = variant_form.cleaned_data
        if not data or data.get("DELETE") or variant_form.is_blank():
            continue
        variant = {"locale": data["locale"].strip()}
        variant.update({part: data[part] for part in parts})
        variants.append(variant)
        form_of.append(index)
    payload = {
        "key": form.cleaned_data["key"].strip(),
        "name": form.cleaned_data["name"],
        "channel": channel,
        "category": form.cleaned_data["category"],
        "kind": form.cleaned_data["kind"],
        "default_locale": form.cleaned_data["default_locale"].strip(),
        "variants": variants,
    }
    return TemplateSubmission(payload, form_of)


def add_template_error(form, formset, submission: TemplateSubmission, error: DomainError):
    """Put a ``DomainError`` from saving a template on the field it names: ``key`` on the
    template form, ``variants[1].sms_body`` on that variant's field, ``variants`` above the
    variants; anything else above the form."""
    if not error.fields:
        form.add_error(None, error.message)
        return
    for path, problems in error.fields.items():
        messages = [problem["message"] for problem in problems]
        head, _, rest = path.partition(".")
        if path in form.fields and path != "channel":
            form.add_error(path, messages)
        elif head.startswith("variants[") and head.endswith("]"):
            _add_variant_error(formset, submission, head, rest, messages)
        elif path == "variants":
            formset._non_form_errors = formset.error_class(
                [*formset.non_form_errors(), *messages], error_class="nonform"
            )
        else:
            form.add_error(None, [f"{path}: {message}" for message in messages])


def _add_variant_error(formset, submission, head: str, part: str, messages: list[str]) -> None:
    try:
        target = formset.forms[submission.form_of[int(head[len("variants[") : -1])]]
    except (ValueError, IndexError):
        formset._non_form_errors = formset.error_class(
            [*formset.non_form_errors(), *messages], error_class="nonform"
        )
        return
    target.add_error(part if part in target.fields else None, messages)


class SendTestForm(forms.Form):
    to = forms.CharField(
        label="Send to",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


# The settings pages' forms live in notifications/settings_forms.py.
