"""Who may open which dashboard page: every page for every role, anonymous visitors, users with no
merchant, another merchant's objects, and forged POSTs. A new page is covered by adding one line
to PAGES, and one to POSTS if it takes a POST."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import get_resolver, reverse

from connectors.models import PrivacyRequest
from journeys.models import Enrollment, Journey, JourneyStepLog, JourneyVersion
from journeys.services import journey_publish, journey_save
from notifications.models import (
    ChannelSettings,
    Message,
    MessageEvent,
    MessageTemplate,
    MessageTemplateVariant,
    MessageTemplateVersion,
    SenderDomain,
    SendingPolicy,
    VerifiedPhone,
)
from notifications.services import message_template_save
from orders.models import Customer
from postpurchase.dashboard.mixins import ScopedListView
from postpurchase.tenancy.permissions import Perm, Role
from tests.factories import MembershipFactory, UserFactory
from tests.tracking.claims.objects import claim_objects
from tracking.claims.models import Claim, ClaimPhoto, ProtectionSettings
from tracking.models import DelaySettings
from webhooks import destinations
from webhooks.services import webhook_endpoint_create

# The message template editor's form, as the page sends it (one language, no extra form).
TEMPLATE_FORM = {
    "name": "Sneaky",
    "key": "shipped",
    "channel": "email",
    "category": "transactional",
    "kind": "status",
    "default_locale": "en",
    "variants-TOTAL_FORMS": "1",
    "variants-INITIAL_FORMS": "1",
    "variants-0-locale": "en",
    "variants-0-subject": "Sneaky",
    "variants-0-html_body": "<p>Sneaky</p>",
}
# A journey's definition (one send of the "shipped" template), and the editor's form for it.
JOURNEY_DEFINITION = {
    "trigger": {"event": "order.placed"},
    "start": "s1",
    "steps": [{"id": "s1", "type": "send", "template": "shipped"}],
}
JOURNEY_FORM = {
    "name": "Sneaky",
    "key": "welcome",
    "trigger-type": "event",
    "trigger-event": "order.placed",
    "trigger-conditions-TOTAL_FORMS": "0",
    "trigger-conditions-INITIAL_FORMS": "0",
    "entry-per": "customer",
    "entry-reentry": "always",
    "rules-start": "s1",
    "rules-holdout_percent": "0",
    "steps-TOTAL": "1",
    "steps-0-type": "send",
    "steps-0-id": "s1",
    "steps-0-template": "shipped",
}
SOON_AREAS = ["customers", "returns", "loyalty", "feedback", "analytics"]
# (url name, kwargs, required perm). A kwarg value names an object of the `objects` fixture.
PAGES = [
    ("dashboard:home", {}, Perm.VIEW),
    ("dashboard:counts", {}, Perm.VIEW),
    ("dashboard:order_list", {}, Perm.VIEW),
    ("dashboard:order_detail", {"pk": "order"}, Perm.VIEW),
    ("dashboard:customer_erase", {"pk": "customer"}, Perm.MANAGE_SETTINGS),
    ("dashboard:customer_export", {"pk": "customer"}, Perm.MANAGE_SETTINGS),
    # The "coming soon" pages of areas not built yet.
    *((f"dashboard:coming_soon_{area}", {}, Perm.VIEW) for area in SOON_AREAS),
    ("dashboard:settings_brand", {}, Perm.MANAGE_SETTINGS),
    ("dashboard:settings_api_keys", {}, Perm.MANAGE_API_KEYS),
    ("dashboard:settings_team", {}, Perm.MANAGE_TEAM),
    ("dashboard:settings_integrations", {}, Perm.MANAGE_SETTINGS),
    (
        "dashboard:settings_integrations_privacy_export",
        {"pk": "privacy_request"},
        Perm.MANAGE_SETTINGS,
    ),
    ("dashboard:settings_webhooks", {}, Perm.MANAGE_SETTINGS),
    (
        "dashboard:settings_webhook_detail",
        {"pk": "webhook_endpoint"},
        Perm.MANAGE_SETTINGS,
    ),
    ("dashboard:message_list", {}, Perm.VIEW),
    ("dashboard:message_detail", {"pk": "message"}, Perm.VIEW),
    ("dashboard:message_template_list", {}, Perm.VIEW),
    ("dashboard:message_template_create", {}, Perm.EDIT_CONTENT),
    ("dashboard:message_template_detail", {"pk": "message_template"}, Perm.VIEW),
    (
        "dashboard:message_template_version",
        {"pk": "message_template_version"},
        Perm.VIEW,
    ),
    # Readable by every member; changing it needs MANAGE_SETTINGS (the POSTS below).
    ("dashboard:settings_messages", {}, Perm.VIEW),
    ("dashboard:journey_list", {}, Perm.VIEW),
    ("dashboard:journey_create", {}, Perm.EDIT_CONTENT),
    ("dashboard:journey_detail", {"pk": "journey"}, Perm.VIEW),
    ("dashboard:journey_enrollments", {"pk": "journey"}, Perm.VIEW),
    ("dashboard:journey_enrollment_detail", {"pk": "enrollment"}, Perm.VIEW),
    # Readable by every member; saving the delay settings needs MANAGE_SETTINGS (the POSTS).
    ("dashboard:tracking", {}, Perm.VIEW),
    ("dashboard:tracking_calibration", {}, Perm.VIEW),
    ("dashboard:tracking_settings", {}, Perm.VIEW),
    ("dashboard:claim_list", {}, Perm.VIEW),
    ("dashboard:claim_detail", {"pk": "claim"}, Perm.VIEW),
    ("dashboard:claim_photo", {"pk": "claim_photo"}, Perm.VIEW),
    ("dashboard:settings_protection", {}, Perm.MANAGE_SETTINGS),
]
# Every endpoint that changes something: (url name, kwargs, required perm, a valid body).
POSTS = [
    (
        "dashboard:settings_brand",
        {},
        Perm.MANAGE_SETTINGS,
        {"name": "Renamed", "currency": "EUR"},
    ),
    (
        "dashboard:settings_api_keys",
        {},
        Perm.MANAGE_API_KEYS,
        {"name": "Sneaky", "scope": "write"},
    ),
    ("dashboard:settings_api_key_revoke", {"pk": "api_key"}, Perm.MANAGE_API_KEYS, {}),
    ("dashboard:customer_erase", {"pk": "customer"}, Perm.MANAGE_SETTINGS, {}),
    (
        "dashboard:settings_team_role",
        {"pk": "viewer_membership"},
        Perm.MANAGE_TEAM,
        {"role": "editor"},
    ),
    (
        "dashboard:settings_integrations_shopify_secret",
        {},
        Perm.MANAGE_SETTINGS,
        {"secret": "shpss_sneaky_0123456789"},
    ),
    ("dashboard:settings_integrations_tracking_secret", {}, Perm.MANAGE_SETTINGS, {}),
    *(
        (
            f"dashboard:settings_integrations_{vendor}_secret",
            {},
            Perm.MANAGE_SETTINGS,
            {"secret": f"{vendor}-sneaky-0123456789"},
        )
        for vendor in ("easypost", "aftership")
    ),
    ("dashboard:settings_integrations_shippo_token", {}, Perm.MANAGE_SETTINGS, {}),
    (
        "dashboard:settings_webhooks",
        {},
        Perm.MANAGE_SETTINGS,
        {"url": "https://hooks.example/in", "all_events": "on"},
    ),
    (
        "dashboard:settings_webhook_detail",
        {"pk": "webhook_endpoint"},
        Perm.MANAGE_SETTINGS,
        {"url": "https://hooks.example/v2", "all_events": "on"},
    ),
    *(
        (
            f"dashboard:settings_webhook_{action}",
            {"pk": "webhook_endpoint"},
            Perm.MANAGE_SETTINGS,
            {},
        )
        for action in ("enable", "disable", "rotate_secret", "test", "delete")
    ),
    (
        "dashboard:message_template_create",
        {},
        Perm.EDIT_CONTENT,
        {**TEMPLATE_FORM, "key": "sneaky"},
    ),
    (
        "dashboard:message_template_save",
        {"pk": "message_template"},
        Perm.EDIT_CONTENT,
        TEMPLATE_FORM,
    ),
    ("dashboard:message_template_preview", {}, Perm.EDIT_CONTENT, TEMPLATE_FORM),
    (
        "dashboard:message_template_test",
        {"pk": "message_template"},
        Perm.EDIT_CONTENT,
        {"to": "sneaky@example.com"},
    ),
    (
        "dashboard:settings_messages_channels",
        {},
        Perm.MANAGE_SETTINGS,
        {"email_provider": "postmark", "postmark__server_token": "sneaky"},
    ),
    (
        "dashboard:settings_messages_policy",
        {},
        Perm.MANAGE_SETTINGS,
        {"send_from": "01:00", "send_until": "02:00", "marketing_cap": "99"}
        | {"cap_window_hours": "1", "cap_mode": "skip"},
    ),
    (
        "dashboard:settings_messages_test",
        {},
        Perm.MANAGE_SETTINGS,
        {"channel": "email", "to": "sneaky@example.com"},
    ),
    ("dashboard:settings_messages_sender_check", {}, Perm.MANAGE_SETTINGS, {}),
    (
        "dashboard:settings_messages_phone_add",
        {},
        Perm.MANAGE_SETTINGS,
        {"phone": "+14155550100"},
    ),
    (
        "dashboard:settings_messages_phone_confirm",
        {},
        Perm.MANAGE_SETTINGS,
        {"phone": "+14155550100", "code": "123456"},
    ),
    (
        "dashboard:settings_messages_phone_remove",
        {"pk": "verified_phone"},
        Perm.MANAGE_SETTINGS,
        {},
    ),
    ("dashboard:journey_create", {}, Perm.EDIT_CONTENT, {**JOURNEY_FORM, "key": "sneaky"}),
    ("dashboard:journey_save", {"pk": "journey"}, Perm.EDIT_CONTENT, JOURNEY_FORM),
    (
        "dashboard:journey_json_save",
        {"pk": "journey"},
        Perm.EDIT_CONTENT,
        {"definition": json.dumps({**JOURNEY_DEFINITION, "exit_events": ["order.cancelled"]})},
    ),
    *(
        (f"dashboard:journey_{action}", {"pk": "journey"}, Perm.EDIT_CONTENT, {})
        for action in ("publish", "pause", "resume")
    ),
    ("dashboard:journey_blueprint_install", {}, Perm.EDIT_CONTENT, {"key": "win_back"}),
    (
        "dashboard:tracking_settings_save",
        {},
        Perm.MANAGE_SETTINGS,
        {"first_scan_days": "9", "transit_scan_days": "9"}
        | {"fulfillment_promise_days": "9", "expired_days": "99"},
    ),
    (
        "dashboard:claim_decide",
        {"pk": "claim"},
        Perm.MANAGE_SETTINGS,
        {"decision": "reject", "message": "Sneaky"},
    ),
    ("dashboard:claim_resolve", {"pk": "claim"}, Perm.MANAGE_SETTINGS, {"resolution": "refund"}),
    (
        "dashboard:settings_protection",
        {},
        Perm.MANAGE_SETTINGS,
        {"claim_window_days": "30", "lost_after_days": "10", "claims_per_customer": "2"}
        | {"limit_period_days": "365"},
    ),
]
# Open to anyone, or checked by their own tests (test_auth.py, test_switcher.py).
OTHER_ENDPOINTS = {
    "dashboard:login",
    "dashboard:logout",
    "dashboard:password_reset",
    "dashboard:password_reset_done",
    "dashboard:password_reset_confirm",
    "dashboard:password_reset_complete",
    "dashboard:switch_merchant",
}
# Written out rather than read from permissions.py, so a change to the rules shows up here.
ROLES_WITH = {
    Perm.VIEW: {Role.OWNER, Role.ADMIN, Role.EDITOR, Role.VIEWER},
    Perm.EDIT_CONTENT: {Role.OWNER, Role.ADMIN, Role.EDITOR},
    Perm.MANAGE_SETTINGS: {Role.OWNER, Role.ADMIN},
    Perm.MANAGE_API_KEYS: {Role.OWNER, Role.ADMIN},
    Perm.MANAGE_TEAM: {Role.OWNER},
}
ALL_ROLES = [Role.OWNER, Role.ADMIN, Role.EDITOR, Role.VIEWER]


@pytest.fixture
def objects(order_a, api_key_a, merchant_a, member_of):
    viewer = member_of(merchant_a, Role.VIEWER, email="viewer@alpha.example")
    return {
        "order": order_a,
        "customer": order_a.customer,
        "api_key": api_key_a,
        "viewer_membership": viewer.memberships.get(),
        "privacy_request": _privacy_request(merchant_a),
        "webhook_endpoint": _webhook_endpoint(merchant_a),
        **_message_objects(merchant_a),
        **_journey_objects(merchant_a, order_a.customer),
        **claim_objects(merchant_a, order_a),
    }


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch):
    # Webhook URLs are resolved when saved: every name is public here, and nothing connects.
    monkeypatch.setattr(destinations, "resolve", lambda host, port: ["93.184.216.34"])


def _webhook_endpoint(merchant):
    return webhook_endpoint_create(
        merchant=merchant,
        url=f"https://{merchant.slug}.example/hooks",
        event_types=["*"],
    )


def _message_objects(merchant) -> dict:
    template = message_template_save(
        merchant=merchant,
        payload={
            "key": "shipped",
            "name": "Shipped",
            "channel": "email",
            "category": "transactional",
            "variants": [{"locale": "en", "subject": "Shipped", "html_body": "<p>On its way</p>"}],
        },
    )
    message = Message.unscoped.create(
        merchant=merchant,
        template=template,
        template_version=template.current_version,
        idempotency_key=f"{merchant.slug}-1",
        channel="email",
        category="transactional",
        status="sent",
        to=f"shopper@{merchant.slug}.example",
    )
    phone = VerifiedPhone.unscoped.create(
        merchant=merchant, phone="+14155550100", verified_at=message.created_at
    )
    return {
        "message_template": template,
        "message_template_version": template.current_version,
        "message": message,
        "verified_phone": phone,
    }


def _journey_objects(merchant, customer) -> dict:
    """A live journey (it sends the "shipped" template of ``_message_objects``) and an
    enrollment in it."""
    journey = journey_save(
        merchant=merchant, key="welcome", name="Welcome", definition=JOURNEY_DEFINITION
    )
    version = journey_publish(journey=journey)
    enrollment = Enrollment.unscoped.create(
        merchant=merchant,
        journey=journey,
        version=version,
        customer=customer,
        key="customer",
        current_step="s1",
    )
    return {"journey": journey, "enrollment": enrollment}


@pytest.fixture
def db_state(db_state):
    """The dashboard's snapshot, with the rows the message pages could change."""

    def snapshot() -> dict[str, list[dict]]:
        state = db_state()
        for model in (
            Customer,
            MessageTemplate,
            MessageTemplateVersion,
            MessageTemplateVariant,
            Message,
            MessageEvent,
            ChannelSettings,
            SendingPolicy,
            VerifiedPhone,
            SenderDomain,
            Journey,
            JourneyVersion,
            Enrollment,
            JourneyStepLog,
            DelaySettings,
            Claim,
            ClaimPhoto,
            ProtectionSettings,
        ):
            state[model.__name__] = list(model.unscoped.order_by("pk").values())
        return state

    return snapshot


def _privacy_request(merchant):
    return PrivacyRequest.unscoped.create(
        merchant=merchant, kind="customers/data_request", export={"customers": []}
    )


@pytest.fixture
def objects_b(order_b, api_key_b, merchant_b, member_of):
    viewer = member_of(merchant_b, Role.VIEWER, email="viewer@bravo.example")
    return {
        "order": order_b,
        "customer": order_b.customer,
        "api_key": api_key_b,
        "viewer_membership": viewer.memberships.get(),
        "privacy_request": _privacy_request(merchant_b),
        "webhook_endpoint": _webhook_endpoint(merchant_b),
        **_message_objects(merchant_b),
        **_journey_objects(merchant_b, order_b.customer),
        **claim_objects(merchant_b, order_b),
    }


def url_for(name: str, kwargs: dict, objects: dict) -> str:
    return reverse(name, kwargs={key: objects[value].pk for key, value in kwargs.items()})


def test_every_dashboard_url_is_in_the_access_matrix():
    # given
    resolver = get_resolver()
    names = {
        f"dashboard:{name}"
        for name in resolver.namespace_dict["dashboard"][1].reverse_dict
        if isinstance(name, str)
    }
    # when
    listed = {page[0] for page in PAGES} | {post[0] for post in POSTS} | OTHER_ENDPOINTS
    # then
    assert names == listed


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize(("name", "kwargs", "perm"), PAGES)
def test_page_answers_200_to_roles_with_its_permission_and_403_to_others(
    name, kwargs, perm, role, objects, merchant_a, member_of, client_for
):
    # given
    user = member_of(merchant_a, role)
    client = client_for(user)
    # when
    response = client.get(url_for(name, kwargs, objects))
    # then
    expected = 200 if role in ROLES_WITH[perm] else 403
    assert response.status_code == expected


@pytest.mark.parametrize(
    ("name", "kwargs", "body", "role"),
    [
        (name, kwargs, body, role)
        for name, kwargs, perm, body in POSTS
        for role in ALL_ROLES
        if role not in ROLES_WITH[perm]
    ],
)
def test_action_is_refused_with_403_and_no_change_to_roles_without_its_permission(
    name, kwargs, body, role, objects, merchant_a, member_of, client_for, db_state
):
    # given
    client = client_for(member_of(merchant_a, role))
    before = db_state()
    # when
    response = client.post(url_for(name, kwargs, objects), body)
    # then
    assert response.status_code == 403
    assert db_state() == before


@pytest.mark.parametrize(("name", "kwargs", "perm"), PAGES)
def test_anonymous_visitor_is_sent_to_sign_in(name, kwargs, perm, objects, client):
    # given
    url = url_for(name, kwargs, objects)
    # when
    response = client.get(url)
    # then
    assert response.status_code == 302
    assert response["Location"] == f"/app/login/?next={url}"


@pytest.mark.parametrize(("name", "kwargs", "perm", "body"), POSTS)
def test_anonymous_post_is_sent_to_sign_in_and_changes_nothing(
    name, kwargs, perm, body, objects, client, db_state
):
    # given
    url = url_for(name, kwargs, objects)
    before = db_state()
    # when
    response = client.post(url, body)
    # then
    assert response.status_code == 302
    assert response["Location"] == f"/app/login/?next={url}"
    assert db_state() == before


@pytest.mark.parametrize(("name", "kwargs", "perm"), [p for p in PAGES if p[1]])
def test_another_merchants_object_answers_404(
    name, kwargs, perm, objects, objects_b, owner_a, client_for
):
    # given
    client = client_for(owner_a)
    # when
    response = client.get(url_for(name, kwargs, objects_b))
    # then
    assert response.status_code == 404


@pytest.mark.parametrize(("name", "kwargs", "perm", "body"), [p for p in POSTS if p[1]])
def test_action_on_another_merchants_object_answers_404_and_changes_nothing(
    name, kwargs, perm, body, objects, objects_b, owner_a, client_for, db_state
):
    # given
    client = client_for(owner_a)
    before = db_state()
    # when
    response = client.post(url_for(name, kwargs, objects_b), body)
    # then
    assert response.status_code == 404
    assert db_state() == before


@pytest.mark.parametrize(
    ("name", "kwargs", "body"),
    [(name, kwargs, body) for name, kwargs, _, body in POSTS]
    + [("dashboard:switch_merchant", {}, {"merchant": "other_merchant"})],
)
def test_post_without_a_csrf_token_is_refused_and_changes_nothing(
    name, kwargs, body, objects, owner_a, merchant_b, db_state
):
    # given: an owner of A who is also in B, and a forged form with no token
    MembershipFactory(user=owner_a, merchant=merchant_b, role=Role.OWNER)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner_a)
    client.get(reverse("dashboard:home"))
    session_before = dict(client.session.items())
    body = {
        key: merchant_b.pk if value == "other_merchant" else value for key, value in body.items()
    }
    before = db_state()
    # when
    response = client.post(url_for(name, kwargs, objects), body)
    # then
    assert response.status_code == 403
    assert db_state() == before
    assert dict(client.session.items()) == session_before


def test_merchant_a_user_gets_404_for_merchant_b_order_detail(
    order_a, order_b, member_of, merchant_a, client_for
):
    # given
    client = client_for(member_of(merchant_a, Role.VIEWER))
    # when
    own = client.get(reverse("dashboard:order_detail", kwargs={"pk": order_a.pk}))
    other = client.get(reverse("dashboard:order_detail", kwargs={"pk": order_b.pk}))
    # then
    assert own.status_code == 200
    assert other.status_code == 404


@pytest.mark.parametrize(("name", "kwargs", "perm"), PAGES)
def test_user_with_no_merchant_gets_the_not_a_member_page(name, kwargs, perm, objects, client_for):
    # given
    client = client_for(UserFactory(email="nobody@example.com"))
    # when
    response = client.get(url_for(name, kwargs, objects))
    # then
    assert response.status_code == 403
    assert "You’re not a member of any merchant" in response.content.decode()


def test_user_of_an_inactive_merchant_only_gets_the_not_a_member_page(
    merchant_a, owner_a, client_for
):
    # given
    merchant_a.is_active = False
    merchant_a.save()
    # when
    response = client_for(owner_a).get(reverse("dashboard:home"))
    # then
    assert response.status_code == 403
    assert "You’re not a member of any merchant" in response.content.decode()


def test_forbidden_page_names_the_role(merchant_a, member_of, client_for):
    # given
    client = client_for(member_of(merchant_a, Role.EDITOR))
    # when
    response = client.get(reverse("dashboard:settings_brand"))
    # then
    assert response.status_code == 403
    assert "Your role in Alpha Apparel is <strong>editor</strong>" in response.content.decode()


def test_scoped_view_may_not_override_get_queryset():
    # given / when / then
    with pytest.raises(TypeError, match="narrow with filter_scoped"):

        class Sneaky(ScopedListView):
            def get_queryset(self):
                return None
