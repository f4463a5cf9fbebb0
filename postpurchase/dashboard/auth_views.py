"""Sign-in, sign-out and password reset: Django's own views with the dashboard's templates."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from postpurchase.dashboard.forms import EmailAuthenticationForm


class LoginView(auth_views.LoginView):
    template_name = "dashboard/auth/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass  # POST only (Django's own rule); redirects to settings.LOGOUT_REDIRECT_URL


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "dashboard/auth/password_reset_form.html"
    email_template_name = "dashboard/auth/password_reset_email.txt"
    subject_template_name = "dashboard/auth/password_reset_subject.txt"
    success_url = reverse_lazy("dashboard:password_reset_done")

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
