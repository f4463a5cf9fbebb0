"""The dashboard's doors to a customer's erasure and export, from the customer card of an order's
page: owners and admins see them, erasing asks first and then says what it did, a POST without
the CSRF token changes nothing, and the export is a JSON download."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from orders.models import Customer
from postpurchase.events.models import Event
from postpurchase.tenancy.permissions import Role

pytestmark = pytest.mark.django_db


def test_owners_see_the_actions_on_the_customer_card_and_viewers_do_not(
    order_a, merchant_a, member_of, client_for
):
    # given
    page = reverse("dashboard:order_detail", kwargs={"pk": order_a.pk})
    erase = reverse("dashboard:customer_erase", kwargs={"pk": order_a.customer_id})

    # when
    as_owner = client_for(member_of(merchant_a, Role.OWNER)).get(page).content.decode()
    as_viewer = client_for(member_of(merchant_a, Role.VIEWER)).get(page).content.decode()

    # then
    assert f'href="{erase}?next={page}"' in as_owner
    assert "Erase personal data…" in as_owner and "Export data" in as_owner
    assert erase not in as_viewer and "Export data" not in as_viewer


def test_erasing_asks_first_then_erases_and_says_what_it_did(
    order_a, merchant_a, member_of, client_for
):
    # given
    client = client_for(member_of(merchant_a, Role.ADMIN))
    page = reverse("dashboard:order_detail", kwargs={"pk": order_a.pk})
    erase = reverse("dashboard:customer_erase", kwargs={"pk": order_a.customer_id})

    # when: the confirmation changes nothing
    confirm = client.get(erase, {"next": page})

    # then
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "<h1>Erase Ada Lovelace's personal data?</h1>" in html
    assert f'<input type="hidden" name="next" value="{page}">' in html
    assert "csrfmiddlewaretoken" in html
    assert Customer.unscoped.get(pk=order_a.customer_id).email == "ada@example.net"

    # when: the erasure
    response = client.post(erase, {"next": page}, follow=True)

    # then
    assert response.redirect_chain == [(page, 302)]
    assert [str(m) for m in response.context["messages"]] == [
        f"Customer #{order_a.customer_id}'s personal data is erased "
        "(customers: 1, tracking events: 2)."
    ]
    customer = Customer.unscoped.get(pk=order_a.customer_id)
    assert (customer.email, customer.first_name, customer.last_name) == ("", "", "")
    assert list(
        Event.unscoped.filter(type="customer.redacted").values_list("source", flat=True)
    ) == ["dashboard"]

    # when: again
    again = client.post(erase, {"next": "https://elsewhere.example/"}, follow=True)

    # then: nothing left to erase, and back to the orders, not to another site
    assert again.redirect_chain == [(reverse("dashboard:order_list"), 302)]
    assert [str(m) for m in again.context["messages"]] == [
        f"Customer #{order_a.customer_id} held no personal data any more."
    ]


def test_a_post_without_the_csrf_token_changes_nothing(order_a, merchant_a, member_of):
    # given
    client = Client(enforce_csrf_checks=True)
    client.force_login(member_of(merchant_a, Role.OWNER))
    erase = reverse("dashboard:customer_erase", kwargs={"pk": order_a.customer_id})

    # when
    response = client.post(erase)

    # then
    assert response.status_code == 403
    assert Customer.unscoped.get(pk=order_a.customer_id).email == "ada@example.net"
    assert not Event.unscoped.filter(type="customer.redacted").exists()


def test_the_export_is_a_json_download_of_everything_held(
    order_a, merchant_a, member_of, client_for
):
    # when
    response = client_for(member_of(merchant_a, Role.OWNER)).get(
        reverse("dashboard:customer_export", kwargs={"pk": order_a.customer_id})
    )

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == (
        f'attachment; filename="customer-{order_a.customer_id}.json"'
    )
    assert "no-cache" in response["Cache-Control"]
    export = json.loads(response.content)
    assert [c["email"] for c in export["customers"]] == ["ada@example.net"]
    assert [o["number"] for o in export["orders"]] == [order_a.number]


def test_another_merchants_customer_answers_404(
    order_a, order_b, merchant_a, member_of, client_for
):
    # given
    client = client_for(member_of(merchant_a, Role.OWNER))

    # when
    for url in (
        reverse("dashboard:customer_erase", kwargs={"pk": order_b.customer_id}),
        reverse("dashboard:customer_export", kwargs={"pk": order_b.customer_id}),
    ):
        assert client.get(url).status_code == 404
    posted = client.post(reverse("dashboard:customer_erase", kwargs={"pk": order_b.customer_id}))

    # then
    assert posted.status_code == 404
    assert Customer.unscoped.get(pk=order_b.customer_id).email == "ada@example.net"
