"""Error codes (issue 12): each app's own enum, one status and one title per code, and the table
in docs/api.md made from the enums, so the page and the code cannot drift apart."""

import pytest
from django.core.management import CommandError, call_command
from rest_framework import exceptions

from postpurchase.api import error_docs
from postpurchase.api.error_docs import DOC_PATH, END, START, error_code_section
from postpurchase.api.exceptions import DOMAIN_STATUS, PROBLEM_TITLES, problem_status
from postpurchase.errors import error_code_enums
from tests.conftest import client_for
from webhooks.destinations import NOT_PUBLIC
from webhooks.models import WebhookEndpoint


def _codes() -> set[str]:
    return {member.value for _, enum in error_code_enums() for member in enum}


def test_each_app_declares_its_codes_in_its_own_errors_module():
    # when
    found = [(app, enum.__name__) for app, enum in error_code_enums()]

    # then: the shared codes first, then each app's, in INSTALLED_APPS order
    assert found == [
        ("core", "ErrorCode"),
        ("tenancy", "TenancyErrorCode"),
        ("events", "EventsErrorCode"),
        ("api", "ApiErrorCode"),
        ("api", "IdempotencyCode"),
        ("orders", "OrdersErrorCode"),
        ("journeys", "JourneysErrorCode"),
        ("notifications", "NotificationsErrorCode"),
        ("connectors", "ConnectorsErrorCode"),
        ("webhooks", "WebhooksErrorCode"),
        ("tracking", "ClaimsErrorCode"),
    ]


def test_no_member_is_an_alias_and_each_says_what_it_means():
    for _, enum in error_code_enums():
        # an Enum silently makes a second member with the same value an alias of the first
        assert len(enum.__members__) == len(enum), enum.__name__
        for member in enum:
            assert member.value == member.value.lower() and " " not in member.value
            assert member.meaning.endswith("."), member


def test_every_code_has_one_title_and_the_status_table_names_only_codes():
    # when
    codes = _codes()

    # then: a title for every code and for nothing else; statuses only for codes
    assert sorted(set(PROBLEM_TITLES) ^ codes) == []
    assert sorted(set(DOMAIN_STATUS) - codes) == []
    assert len(set(PROBLEM_TITLES.values())) == len(PROBLEM_TITLES)


@pytest.mark.parametrize(
    ("code", "exception"),
    [
        ("invalid", exceptions.ValidationError),
        ("parse_error", exceptions.ParseError),
        ("authentication_failed", exceptions.AuthenticationFailed),
        ("bad_authorization_header", exceptions.AuthenticationFailed),
        ("invalid_api_key", exceptions.AuthenticationFailed),
        ("not_authenticated", exceptions.NotAuthenticated),
        ("permission_denied", exceptions.PermissionDenied),
        ("insufficient_scope", exceptions.PermissionDenied),
        ("not_found", exceptions.NotFound),
        ("method_not_allowed", exceptions.MethodNotAllowed),
        ("not_acceptable", exceptions.NotAcceptable),
        ("unsupported_media_type", exceptions.UnsupportedMediaType),
        ("throttled", exceptions.Throttled),
    ],
)
def test_a_code_drf_raises_has_the_status_drf_answers_it_with(code, exception):
    # DRF sets these statuses itself; the one table must say the same
    assert problem_status(code) == exception.status_code


def test_the_docs_list_exactly_the_codes_of_the_enums():
    # given
    page = DOC_PATH.read_text(encoding="utf-8")

    # when
    listed = error_code_section(page)

    # then: run `manage.py error_codes_doc` when this fails
    assert listed == error_docs.error_code_table()
    rows = [line for line in listed.splitlines()[2:]]
    assert len(rows) == sum(len(enum) for _, enum in error_code_enums())
    assert "| webhooks | `destination_not_allowed` | 400 | Destination not allowed | " in listed


def test_the_command_rewrites_a_stale_table_and_check_fails_on_one(tmp_path, monkeypatch):
    # given: a page whose table is out of date
    page = tmp_path / "api.md"
    page.write_text(f"# API\n\n{START}\n| old |\n{END}\n\n## After\n", encoding="utf-8")
    monkeypatch.setattr("postpurchase.api.management.commands.error_codes_doc.DOC_PATH", page)

    # when
    with pytest.raises(CommandError) as stale:
        call_command("error_codes_doc", "--check")
    untouched = page.read_text(encoding="utf-8")
    call_command("error_codes_doc")
    call_command("error_codes_doc", "--check")

    # then
    assert str(stale.value) == "api.md: the error codes are stale; run error_codes_doc."
    assert untouched == f"# API\n\n{START}\n| old |\n{END}\n\n## After\n"
    assert page.read_text(encoding="utf-8") == (
        f"# API\n\n{START}\n{error_docs.error_code_table()}\n{END}\n\n## After\n"
    )


def test_a_page_without_the_markers_is_refused(tmp_path, monkeypatch):
    page = tmp_path / "api.md"
    page.write_text("# API\n", encoding="utf-8")
    monkeypatch.setattr("postpurchase.api.management.commands.error_codes_doc.DOC_PATH", page)

    with pytest.raises(CommandError) as refused:
        call_command("error_codes_doc")

    assert str(refused.value) == f"api.md lacks the markers {START!r} and {END!r}"
    assert page.read_text(encoding="utf-8") == "# API\n"


@pytest.mark.django_db
def test_problem_json_carries_an_apps_own_code_with_its_status_and_title(merchant_a):
    # when: an endpoint at a private address
    response = client_for(merchant_a).post(
        "/api/v1/webhook-endpoints",
        {"url": "http://10.0.0.1/hook", "event_types": ["*"]},
        format="json",
    )

    # then
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://postpurchase.dev/problems/destination_not_allowed",
        "title": "Destination not allowed",
        "status": 400,
        "detail": NOT_PUBLIC,
        "code": "destination_not_allowed",
        "errors": {"url": [{"code": "destination_not_allowed", "message": NOT_PUBLIC}]},
    }
    assert WebhookEndpoint.unscoped.count() == 0
