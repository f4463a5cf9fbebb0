"""Settings pages: brand settings, API keys and the team."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse

from postpurchase.tenancy.models import ApiKey, Membership, Merchant
from postpurchase.tenancy.permissions import Role
from postpurchase.tenancy.services import api_key_authenticate

BRAND = {
    "name": "Alpha Outdoor",
    "timezone": "America/Chicago",
    "currency": "cad",
    "country": "ca",
    "default_locale": "en-CA",
    "logo_url": "https://cdn.example/alpha.png",
    "primary_colour": "#112233",
    "accent_colour": "#AABBCC",
    "sender_name": "Alpha Outdoor",
    "sender_email": "hello@alpha.example",
    "support_email": "help@alpha.example",
    "support_url": "https://alpha.example/help",
    "postal_address": "12 Trail Road\nBoulder, CO 80302",
}


# --- navigation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "settings_links"),
    [
        (
            Role.OWNER,
            ["Brand settings", "API keys", "Team", "Integrations", "Webhooks", "Message settings"],
        ),
        (
            Role.ADMIN,
            ["Brand settings", "API keys", "Integrations", "Webhooks", "Message settings"],
        ),
        # every member may read the sending rules; only owners and admins change them
        (Role.EDITOR, ["Message settings"]),
        (Role.VIEWER, ["Message settings"]),
    ],
)
def test_navigation_shows_settings_links_only_to_roles_that_may_use_them(
    role, settings_links, merchant_a, member_of, client_for
):
    # given
    client = client_for(member_of(merchant_a, role))
    # when
    response = client.get(reverse("dashboard:home"))
    # then
    sections = {s.title: s.links for s in response.context["dashboard_navigation"]}
    main = [(link.label, link.is_soon) for link in sections[""]]
    assert main == [
        ("Home", False),
        ("Orders", False),
        ("Customers", True),
        ("Journeys", False),
        ("Messages", False),
        ("Tracking", False),
        ("Returns", True),
        ("Loyalty", True),
        ("Feedback", True),
        ("Analytics", True),
    ]
    assert [link.label for link in sections.get("Settings", [])] == settings_links
    html = response.content.decode()
    assert html.count('<span class="soon">soon</span>') == 5
    assert ('href="/app/settings/team/"' in html) is (role == Role.OWNER)


def test_header_shows_the_merchant_logo_and_the_users_email_and_role(
    merchant_a, member_of, client_for
):
    # given
    merchant_a.logo_url = "https://cdn.example/alpha.png"
    merchant_a.save()
    client = client_for(member_of(merchant_a, Role.ADMIN, email="admin@alpha.example"))
    # when
    response = client.get(reverse("dashboard:home"))
    # then
    html = response.content.decode()
    assert '<img class="merchant-logo" src="https://cdn.example/alpha.png"' in html
    assert '<span class="sidebar__merchant-name">Alpha Apparel</span>' in html
    assert '<span class="user__email">admin@alpha.example</span>' in html
    assert '<span class="user__role">Admin</span>' in html


# --- brand settings ------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_brand_settings_are_saved(role, merchant_a, member_of, client_for):
    # given
    client = client_for(member_of(merchant_a, role))
    # when
    response = client.post(reverse("dashboard:settings_brand"), BRAND)
    # then
    assert response.status_code == 302
    assert response["Location"] == "/app/settings/brand/"
    saved = Merchant.objects.values(*BRAND).get(pk=merchant_a.pk)
    assert saved == {
        **BRAND,
        "currency": "CAD",
        "country": "CA",
        "accent_colour": "#aabbcc",
    }
    page = client.get(response["Location"])
    assert "Brand settings saved." in page.content.decode()


def test_brand_settings_form_shows_the_saved_values(merchant_a, owner_a, client_for):
    # given / when
    response = client_for(owner_a).get(reverse("dashboard:settings_brand"))
    # then
    form = response.context["form"]
    assert form["name"].value() == "Alpha Apparel"
    assert form["timezone"].value() == "America/New_York"
    assert form["currency"].value() == "USD"


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("currency", "ZZZ", "Enter an ISO 4217 currency code, such as USD or EUR."),
        ("country", "XX", "Enter an ISO 3166-1 alpha-2 country code, such as US or DE."),
        ("default_locale", "xx-nowhere", "Enter a language code, such as en, fr or en-GB."),
        ("primary_colour", "blue", "Enter a colour as #RRGGBB."),
        ("timezone", "Mars/Olympus", "Select a valid choice. Mars/Olympus is not one of"),
        ("name", "", "This field is required."),
    ],
)
def test_invalid_brand_settings_are_refused_and_nothing_changes(
    field, value, error, merchant_a, owner_a, client_for, db_state
):
    # given
    client = client_for(owner_a)
    before = db_state()
    # when
    response = client.post(reverse("dashboard:settings_brand"), {**BRAND, field: value})
    # then
    assert response.status_code == 200
    assert response.context["form"].errors[field][0].startswith(error)
    assert db_state() == before
    # the page header still shows the saved merchant, not what was typed
    assert '<span class="sidebar__merchant-name">Alpha Apparel</span>' in (
        response.content.decode()
    )


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_brand_settings_post_by_editor_or_viewer_is_403_and_changes_nothing(
    role, merchant_a, member_of, client_for, db_state
):
    # given
    client = client_for(member_of(merchant_a, role))
    before = db_state()
    # when
    response = client.post(reverse("dashboard:settings_brand"), BRAND)
    # then
    assert response.status_code == 403
    assert db_state() == before


# --- API keys ------------------------------------------------------------------------------


def test_api_key_is_shown_once_and_only_its_hash_is_stored(merchant_a, owner_a, client_for):
    # given
    client = client_for(owner_a)
    # when
    response = client.post(
        reverse("dashboard:settings_api_keys"), {"name": "Shopify sync", "scope": "read"}
    )
    # then: the one response that creates it shows it, and asks not to be cached
    assert response.status_code == 200
    plaintext = response.context["issued"].plaintext
    html = response.content.decode()
    assert html.count(plaintext) == 1
    assert "no-store" in response["Cache-Control"]
    # only the prefix and the SHA-256 of the secret are stored, and the key works
    key = ApiKey.objects.get(merchant=merchant_a)
    prefix, secret = plaintext.split("_")[1], plaintext.split("_", 2)[2]
    assert (key.name, key.scope, key.prefix, key.created_by) == (
        "Shopify sync",
        "read",
        prefix,
        owner_a,
    )
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiKey.objects.filter(pk=key.pk).values().get())
    assert api_key_authenticate(plaintext=plaintext) == key
    # it is nowhere else: not in the session, not on the next page
    assert secret not in str(dict(client.session.items()))
    again = client.get(reverse("dashboard:settings_api_keys"))
    assert secret not in again.content.decode()
    assert f"ppk_{prefix}_…" in again.content.decode()


def test_api_key_list_shows_each_keys_details(api_key_a, api_key_b, owner_a, client_for):
    # given / when
    response = client_for(owner_a).get(reverse("dashboard:settings_api_keys"))
    # then: merchant B's key is not listed
    assert list(response.context["api_keys"]) == [api_key_a]
    html = response.content.decode()
    assert '<span class="cell-main">Shop sync</span>' in html
    assert '<td class="nowrap">Read and write</td>' in html
    assert '<td class="nowrap">Never</td>' in html
    assert '<span class="badge badge--success">Active</span>' in html


def test_api_key_without_a_name_is_refused(merchant_a, owner_a, client_for):
    # given / when
    response = client_for(owner_a).post(
        reverse("dashboard:settings_api_keys"), {"name": "  ", "scope": "write"}
    )
    # then
    assert response.status_code == 200
    assert response.context["issued"] is None
    assert response.context["form"].errors == {"name": ["This field is required."]}
    assert ApiKey.objects.filter(merchant=merchant_a).count() == 0


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_api_key_creation_by_editor_or_viewer_is_403_and_creates_nothing(
    role, merchant_a, member_of, client_for, db_state
):
    # given
    client = client_for(member_of(merchant_a, role))
    before = db_state()
    # when
    response = client.post(
        reverse("dashboard:settings_api_keys"), {"name": "Sneaky", "scope": "write"}
    )
    # then
    assert response.status_code == 403
    assert "ppk_" not in response.content.decode()
    assert db_state() == before


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_revoking_a_key_stops_it_working(role, merchant_a, member_of, client_for):
    # given
    from postpurchase.tenancy.services import api_key_create

    issued = api_key_create(merchant=merchant_a, name="Old sync")
    client = client_for(member_of(merchant_a, role))
    # when
    response = client.post(
        reverse("dashboard:settings_api_key_revoke", kwargs={"pk": issued.api_key.pk})
    )
    # then
    assert response.status_code == 302
    assert response["Location"] == "/app/settings/api-keys/"
    issued.api_key.refresh_from_db()
    assert issued.api_key.revoked_at is not None
    assert api_key_authenticate(plaintext=issued.plaintext) is None
    page = client.get(response["Location"]).content.decode()
    assert "The key “Old sync” is revoked." in page
    assert '<span class="badge badge--danger">Revoked</span>' in page


def test_revoking_by_get_is_not_allowed(api_key_a, owner_a, client_for):
    # given / when
    response = client_for(owner_a).get(
        reverse("dashboard:settings_api_key_revoke", kwargs={"pk": api_key_a.pk})
    )
    # then
    assert response.status_code == 405
    api_key_a.refresh_from_db()
    assert api_key_a.revoked_at is None


# --- team ----------------------------------------------------------------------------------


def role_of(user, merchant) -> str:
    return Membership.objects.get(user=user, merchant=merchant).role


def test_team_page_lists_members_and_roles(merchant_a, owner_a, owner_b, member_of, client_for):
    # given
    member_of(merchant_a, Role.EDITOR, email="editor@alpha.example", full_name="")
    # when
    response = client_for(owner_a).get(reverse("dashboard:settings_team"))
    # then: merchant B's owner is not listed
    members = [
        (row["membership"].user.email, row["membership"].role) for row in response.context["rows"]
    ]
    assert members == [("editor@alpha.example", "editor"), ("owner@alpha.example", "owner")]
    html = response.content.decode()
    assert '<option value="editor" selected>Editor</option>' in html
    assert '<span class="tag">you</span>' in html


def test_owner_changes_a_members_role(merchant_a, owner_a, member_of, client_for):
    # given
    editor = member_of(merchant_a, Role.EDITOR, email="editor@alpha.example")
    membership = editor.memberships.get()
    # when
    response = client_for(owner_a).post(
        reverse("dashboard:settings_team_role", kwargs={"pk": membership.pk}), {"role": "admin"}
    )
    # then
    assert response.status_code == 302
    assert response["Location"] == "/app/settings/team/"
    assert role_of(editor, merchant_a) == Role.ADMIN


def test_last_owner_cannot_demote_themselves(merchant_a, owner_a, client_for, db_state):
    # given
    membership = owner_a.memberships.get()
    client = client_for(owner_a)
    before = db_state()
    # when
    response = client.post(
        reverse("dashboard:settings_team_role", kwargs={"pk": membership.pk}), {"role": "admin"}
    )
    # then
    assert response.status_code == 200
    error = "A merchant needs at least one owner: make someone else an owner first."
    assert error in response.content.decode()
    assert db_state() == before


def test_owner_with_another_owner_may_step_down(merchant_a, owner_a, member_of, client_for):
    # given
    member_of(merchant_a, Role.OWNER, email="cofounder@alpha.example")
    membership = owner_a.memberships.get()
    # when
    response = client_for(owner_a).post(
        reverse("dashboard:settings_team_role", kwargs={"pk": membership.pk}), {"role": "admin"}
    )
    # then: no longer allowed on the team page, so they land on home
    assert response.status_code == 302
    assert response["Location"] == "/app/"
    assert role_of(owner_a, merchant_a) == Role.ADMIN


def test_unknown_role_is_refused(merchant_a, owner_a, member_of, client_for, db_state):
    # given
    editor = member_of(merchant_a, Role.EDITOR)
    before = db_state()
    # when
    response = client_for(owner_a).post(
        reverse("dashboard:settings_team_role", kwargs={"pk": editor.memberships.get().pk}),
        {"role": "superuser"},
    )
    # then
    assert response.status_code == 200
    assert "Select a valid choice. superuser is not one of the available choices." in (
        response.content.decode()
    )
    assert db_state() == before


@pytest.mark.parametrize("role", [Role.ADMIN, Role.EDITOR, Role.VIEWER])
def test_role_change_by_a_non_owner_is_403_and_changes_nothing(
    role, merchant_a, owner_a, member_of, client_for, db_state
):
    # given: trying to make themselves owner
    user = member_of(merchant_a, role)
    before = db_state()
    # when
    response = client_for(user).post(
        reverse("dashboard:settings_team_role", kwargs={"pk": user.memberships.get().pk}),
        {"role": "owner"},
    )
    # then
    assert response.status_code == 403
    assert db_state() == before
