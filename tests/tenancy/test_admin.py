"""The operator admin: superusers see every merchant; other staff only their own merchants."""

import pytest
from django.urls import reverse

from orders.models import Order
from postpurchase.tenancy.permissions import Role
from tests.factories import OrderFactory, UserFactory


@pytest.fixture
def orders(merchant_a, merchant_b):
    return OrderFactory(merchant=merchant_a, number="A-1"), OrderFactory(
        merchant=merchant_b, number="B-1"
    )


def test_superuser_sees_every_merchants_orders(client, orders):
    # given
    operator = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(operator)

    # when
    response = client.get(reverse("admin:orders_order_changelist"))

    # then
    assert response.status_code == 200
    assert list(response.context["cl"].queryset.values_list("number", flat=True)) == ["B-1", "A-1"]


def test_staff_member_of_a_sees_only_as_orders_in_the_admin(client, merchant_a, member_of, orders):
    # given
    from django.contrib.auth.models import Permission

    staff = member_of(merchant_a, Role.ADMIN, is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_order", "change_order"])
    )
    client.force_login(staff)
    order_a, order_b = orders

    # when
    changelist = client.get(reverse("admin:orders_order_changelist"))
    own = client.get(reverse("admin:orders_order_change", args=[order_a.pk]))
    other = client.get(reverse("admin:orders_order_change", args=[order_b.pk]))

    # then
    assert list(changelist.context["cl"].queryset.values_list("number", flat=True)) == ["A-1"]
    assert own.status_code == 200
    assert other.status_code == 302  # the admin's "does not exist" redirect, no details shown
    assert other.url == reverse("admin:index")
    assert Order.unscoped.get(pk=order_b.pk).number == "B-1"
