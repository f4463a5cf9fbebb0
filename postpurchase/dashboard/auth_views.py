"""Sign-in, sign-out and password reset: Django's own views with the dashboard's templates,
throttled against brute force (``throttling``): over a limit they answer 429 with the form and
a message saying how long to wait."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse_lazy

from postpurchase.dashboard import throttling
from postpurchase.dashboard.forms import (
    THROTTLED_PASSWORD_RESET,
    EmailAuthenticationForm,
    minutes_text,
)


def too_many_requests(response: HttpResponse, *, retry_after: int) -> HttpResponse:
    response.status_code = 429
    response["Retry-After"] = str(retry_after)
    return response


class LoginView(auth_views.LoginView):
    template_name = "dashboard/auth/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.is_throttled:
            return too_many_requests(response, retry_after=form.retry_after)
        return response


def admin_login(request: HttpRequest, extra_context=None) -> HttpResponse:
    """``/admin/login/``: the admin site's own view and template, whose form
    (``admin.site.login_form``, set in the URL root) is throttled like the dashboard's; a
    refusal answers 429."""
    response = admin.site.login(request, extra_context)
    form = (getattr(response, "context_data", None) or {}).get("form")
    if getattr(form, "is_throttled", False):
        return too_many_requests(response, retry_after=form.retry_after)
    return response


class LogoutView(auth_views.LogoutView):
    pass  # POST only (Django's own rule); redirects to settings.LOGOUT_REDIRECT_URL


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "dashboard/auth/password_reset_form.html"
    email_template_name = "dashboard/auth/password_reset_email.txt"
    subject_template_name = "dashboard/auth/password_reset_subject.txt"
    success_url = reverse_lazy("dashboard:password_reset_done")

    def form_valid(self, form):
        # Counted for any address typed, known or not, and refused the same way: the refusal
        # tells nothing about who has an account.
        attempt = throttling.password_reset_attempt(
            request=self.request, email=form.cleaned_data["email"], now=throttling.clock()
        )
        if not attempt.throttled:
            return super().form_valid(form)  # sends the mail when the address has an account
        form.add_error(
            None,
            ValidationError(
                THROTTLED_PASSWORD_RESET,
                code="throttled",
                params={"wait": minutes_text(attempt.retry_after_minutes)},
            ),
        )
        return too_many_requests(self.form_invalid(form), retry_after=attempt.retry_after)

    @property
    def extra_email_context(self) -> dict[str, str]:
        # Links in emails are built on the configured site address, not on the request's
        # Host header.
        return {"site_url": settings.SITE_URL.rstrip("/")}


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "dashboard/auth/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "dashboard/auth/password_reset_confirm.html"
    success_url = reverse_lazy("dashboard:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "dashboard/auth/password_reset_complete.html"
