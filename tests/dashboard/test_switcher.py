"""The merchant switcher for users who belong to several merchants."""

from __future__ import annotations

import pytest
from django.urls import reverse

from postpurchase.tenancy.middleware import SESSION_KEY
from postpurchase.tenancy.permissions import Role
from tests.factories import MembershipFactory, MerchantFactory


@pytest.fixture
def user_in_a_and_b(merchant_a, merchant_b, member_of):
    user = member_of(merchant_a, Role.OWNER, email="both@example.com")
    MembershipFactory(user=user, merchant=merchant_b, role=Role.VIEWER)
    return user


def test_switcher_lists_the_users_merchants_with_the_current_one_selected(
    user_in_a_and_b, merchant_a, merchant_b, client_for
):
    # given
    client = client_for(user_in_a_and_b)
    # when
    response = client.get(reverse("dashboard:home"))
    # then
    html = response.content.decode()
    assert '<form class="switcher" method="post" action="/app/switch/" data-switcher>' in html
    assert f'<option value="{merchant_a.pk}" selected>Alpha Apparel</option>' in html
    assert f'<option value="{merchant_b.pk}">Bravo Books</option>' in html


def test_switcher_is_hidden_for_a_user_of_one_merchant(owner_a, client_for):
    # given / when
    response = client_for(owner_a).get(reverse("dashboard:home"))
    # then
    assert 'action="/app/switch/"' not in response.content.decode()


def test_switching_moves_the_user_between_their_merchants(
    user_in_a_and_b, merchant_a, merchant_b, client_for
):
    # given
    client = client_for(user_in_a_and_b)
    # when
    to_b = client.post(reverse("dashboard:switch_merchant"), {"merchant": merchant_b.pk})
    home_b = client.get(reverse("dashboard:home"))
    to_a = client.post(reverse("dashboard:switch_merchant"), {"merchant": merchant_a.pk})
    home_a = client.get(reverse("dashboard:home"))
    # then
    assert to_b.status_code == 302
    assert to_b["Location"] == "/app/"
    assert home_b.context["current_merchant"] == merchant_b
    assert home_b.context["current_membership"].role == Role.VIEWER
    assert '<span class="user__role">Viewer</span>' in home_b.content.decode()
    assert to_a["Location"] == "/app/"
    assert home_a.context["current_merchant"] == merchant_a
    assert client.session[SESSION_KEY] == merchant_a.pk


def test_switching_keeps_the_chosen_merchants_data_apart(
    user_in_a_and_b, merchant_b, order_a, order_b, client_for
):
    # given
    client = client_for(user_in_a_and_b)
    client.post(reverse("dashboard:switch_merchant"), {"merchant": merchant_b.pk})
    # when
    own = client.get(reverse("dashboard:order_detail", kwargs={"pk": order_b.pk}))
    other = client.get(reverse("dashboard:order_detail", kwargs={"pk": order_a.pk}))
    # then
    assert own.status_code == 200
    assert other.status_code == 404


@pytest.mark.parametrize("merchant", ["not-a-member", "unknown", "garbage"])
def test_switching_to_a_merchant_the_user_is_not_in_is_404_and_changes_nothing(
    merchant, user_in_a_and_b, merchant_a, client_for
):
    # given
    stranger = MerchantFactory(slug="charlie", name="Charlie Candles")
    merchant_id = {"not-a-member": stranger.pk, "unknown": 999999, "garbage": "x"}[merchant]
    client = client_for(user_in_a_and_b)
    client.get(reverse("dashboard:home"))
    # when
    response = client.post(reverse("dashboard:switch_merchant"), {"merchant": merchant_id})
    # then
    assert response.status_code == 404
    assert client.session[SESSION_KEY] == merchant_a.pk
    assert client.get(reverse("dashboard:home")).context["current_merchant"] == merchant_a


def test_switching_by_get_is_not_allowed(user_in_a_and_b, merchant_a, merchant_b, client_for):
    # given
    client = client_for(user_in_a_and_b)
    client.get(reverse("dashboard:home"))
    # when
    response = client.get(reverse("dashboard:switch_merchant"), {"merchant": merchant_b.pk})
    # then
    assert response.status_code == 405
    assert client.session[SESSION_KEY] == merchant_a.pk


def test_switching_needs_a_signed_in_user(merchant_a, client):
    # given / when
    response = client.post(reverse("dashboard:switch_merchant"), {"merchant": merchant_a.pk})
    # then
    assert response.status_code == 302
    assert response["Location"] == "/app/login/?next=/app/switch/"
    assert SESSION_KEY not in client.session
