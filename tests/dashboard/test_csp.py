"""The dashboard and the admin carry a Content Security Policy: scripts only from our static
files, no eval (htmx is configured without it), images from here, https: and data: only; the
shopper pages keep their own stricter policy. No template of the dashboard has an inline script
or an inline event handler, which the policy would block."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from postpurchase.csp import POLICY
from postpurchase.tenancy.permissions import Role

EXPECTED = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' https: data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def test_the_policy_is_exactly_this():
    assert POLICY == EXPECTED


@pytest.mark.parametrize(
    "path", ["/app/", "/app/orders/", "/app/messages/", "/app/journeys/", "/app/tracking/"]
)
def test_dashboard_pages_carry_the_policy(path, merchant_a, member_of, client_for):
    # when
    response = client_for(member_of(merchant_a, Role.OWNER)).get(path)

    # then
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == EXPECTED


@pytest.mark.parametrize("path", ["/app/login/", "/app/password-reset/", "/admin/login/"])
def test_sign_in_pages_and_the_admin_carry_the_policy(client, path):
    response = client.get(path)

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == EXPECTED


def test_admin_pages_carry_the_policy(client, db):
    # given
    from postpurchase.tenancy.models import User

    operator = User.objects.create_superuser(email="ops@platform.example", password="x-unused-1")
    client.force_login(operator)

    # when
    response = client.get("/admin/tenancy/merchant/")

    # then
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == EXPECTED


def test_the_api_and_health_check_are_left_alone(client, db):
    assert "Content-Security-Policy" not in client.get("/healthz")
    assert "Content-Security-Policy" not in client.get("/api/v1/orders")


def test_htmx_runs_without_eval_or_injected_styles(merchant_a, member_of, client_for):
    html = client_for(member_of(merchant_a, Role.VIEWER)).get("/app/").content.decode()

    assert (
        '<meta name="htmx-config" content=\'{"allowEval": false, "allowScriptTags": false, '
        '"includeIndicatorStyles": false}\'>'
    ) in html


DASHBOARD_TEMPLATES = ["dashboard", "journeys", "notifications", "connectors", "webhooks"]


def dashboard_templates():
    root = settings.BASE_DIR / "templates"
    return sorted(
        path
        for folder in DASHBOARD_TEMPLATES
        for path in (root / folder).rglob("*.html")
        # Email bodies are shown in a sandboxed frame that runs no script at all.
        if "emails" not in path.parts
    )


def test_no_dashboard_template_has_an_inline_script_or_handler():
    # given
    templates = dashboard_templates()

    # when
    inline = [
        (path.name, tag)
        for path in templates
        for tag in re.findall(r"<script\b[^>]*>", path.read_text())
        if "src=" not in tag
    ]
    handlers = [
        (path.name, attribute)
        for path in templates
        for attribute in re.findall(r"<[a-z][^>]*\s(on[a-z]+=)", path.read_text())
    ]
    javascript_urls = [path.name for path in templates if "javascript:" in path.read_text()]

    # then
    assert len(templates) > 30
    assert (inline, handlers, javascript_urls) == ([], [], [])
