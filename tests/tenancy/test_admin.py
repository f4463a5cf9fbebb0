"""The operator admin: superusers see every merchant; other staff only their own merchants."""

import pytest
from django.contrib import admin
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from orders.models import Customer, Order, OrderLine, Product
from postpurchase.tenancy.admin import UserAdmin
from postpurchase.tenancy.admin_base import LimitedChoicesMixin
from postpurchase.tenancy.models import ApiKey, Membership, Merchant, User
from postpurchase.tenancy.permissions import Role
from tests.factories import (
    CustomerFactory,
    MembershipFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    UserFactory,
)


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


# --- writes to users, merchants, memberships and API keys are for superusers only -------------

ALL_TENANCY_PERMISSIONS = [
    f"{action}_{model}"
    for action in ("add", "change", "delete", "view")
    for model in ("user", "merchant", "membership", "apikey")
]


def _staff_of(merchant, member_of, codenames):
    from django.contrib.auth.models import Permission

    staff = member_of(merchant, Role.OWNER, is_staff=True, email="staff@alpha.example")
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return staff


def _membership_rows():
    return sorted(Membership.objects.values_list("user__email", "merchant__slug", "role"))


def test_staff_member_of_a_cannot_add_a_membership_of_b(client, merchant_a, merchant_b, member_of):
    # given: the escalation the review found, with every model permission granted
    staff = _staff_of(merchant_a, member_of, ALL_TENANCY_PERMISSIONS)
    client.force_login(staff)
    before = _membership_rows()

    # when
    response = client.post(
        reverse("admin:tenancy_membership_add"),
        {"user": staff.pk, "merchant": merchant_b.pk, "role": Role.OWNER},
    )

    # then
    assert response.status_code == 403
    assert _membership_rows() == before == [("staff@alpha.example", "alpha", Role.OWNER)]


def test_staff_member_of_a_cannot_add_a_membership_of_b_through_the_user_inline(
    client, merchant_a, merchant_b, member_of
):
    # given
    staff = _staff_of(merchant_a, member_of, ALL_TENANCY_PERMISSIONS)
    client.force_login(staff)
    own = staff.memberships.get()
    before = _membership_rows()

    # when
    response = client.post(
        reverse("admin:tenancy_user_change", args=[staff.pk]),
        {
            "email": staff.email,
            "full_name": staff.full_name,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "memberships-TOTAL_FORMS": "2",
            "memberships-INITIAL_FORMS": "1",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-id": own.pk,
            "memberships-0-user": staff.pk,
            "memberships-0-merchant": merchant_a.pk,
            "memberships-0-role": Role.OWNER,
            "memberships-1-user": staff.pk,
            "memberships-1-merchant": merchant_b.pk,
            "memberships-1-role": Role.OWNER,
        },
    )

    # then
    assert response.status_code == 403
    assert _membership_rows() == before
    staff.refresh_from_db()
    assert staff.is_superuser is False


def test_autocomplete_offers_a_staff_member_only_their_merchants(
    client, merchant_a, merchant_b, member_of
):
    # given
    staff = _staff_of(merchant_a, member_of, ALL_TENANCY_PERMISSIONS)
    client.force_login(staff)

    # when
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "tenancy", "model_name": "membership", "field_name": "merchant", "term": ""},
    )

    # then
    assert response.status_code == 200
    assert response.json()["results"] == [{"id": str(merchant_a.pk), "text": "Alpha Apparel"}]


@pytest.mark.parametrize("model", ["user", "merchant", "membership", "apikey"])
def test_staff_member_cannot_open_add_pages(client, merchant_a, member_of, model):
    # given
    staff = _staff_of(merchant_a, member_of, ALL_TENANCY_PERMISSIONS)
    client.force_login(staff)

    # when
    response = client.get(reverse(f"admin:tenancy_{model}_add"))

    # then
    assert response.status_code == 403


def _api_key(merchant):
    return ApiKey.objects.create(
        merchant=merchant, name="Shop sync", prefix="abcd1234", secret_hash="0" * 64
    )


@pytest.mark.parametrize(
    ("model", "row", "post", "unchanged"),
    [
        (
            "merchant",
            lambda merchant, staff: merchant,
            lambda merchant, staff: {
                "name": "Taken Over",
                "slug": "alpha",
                "timezone": "UTC",
                "currency": "USD",
                "default_locale": "en",
                "primary_colour": "#000000",
                "accent_colour": "#000000",
            },
            lambda merchant, staff: Merchant.objects.get(pk=merchant.pk).name == "Alpha Apparel",
        ),
        (
            "user",
            lambda merchant, staff: staff,
            lambda merchant, staff: {"email": staff.email, "is_staff": "on", "is_superuser": "on"},
            lambda merchant, staff: User.objects.get(pk=staff.pk).is_superuser is False,
        ),
        (
            "membership",
            lambda merchant, staff: staff.memberships.get(),
            lambda merchant, staff: {"user": staff.pk, "merchant": merchant.pk, "role": "viewer"},
            lambda merchant, staff: staff.memberships.get().role == Role.OWNER,
        ),
        (
            "apikey",
            lambda merchant, staff: _api_key(merchant),
            lambda merchant, staff: {"revoked_at_0": "2026-01-01", "revoked_at_1": "00:00:00"},
            lambda merchant, staff: ApiKey.objects.get().revoked_at is None,
        ),
    ],
)
def test_staff_member_cannot_change_or_delete_tenancy_rows(
    client, merchant_a, member_of, model, row, post, unchanged
):
    # given
    staff = _staff_of(merchant_a, member_of, ALL_TENANCY_PERMISSIONS)
    client.force_login(staff)
    obj = row(merchant_a, staff)

    # when
    page = client.get(reverse(f"admin:tenancy_{model}_change", args=[obj.pk]))
    change = client.post(
        reverse(f"admin:tenancy_{model}_change", args=[obj.pk]), post(merchant_a, staff)
    )
    delete = client.post(reverse(f"admin:tenancy_{model}_delete", args=[obj.pk]), {"post": "yes"})

    # then: they may look, nothing more
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert change.status_code == 403
    assert delete.status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()
    assert unchanged(merchant_a, staff)


def test_staff_member_sees_only_users_of_their_merchants(client, merchant_a, merchant_b, member_of):
    # given
    staff = _staff_of(merchant_a, member_of, ["view_user"])
    member_of(merchant_a, Role.VIEWER, email="colleague@alpha.example")
    member_of(merchant_b, Role.OWNER, email="owner@bravo.example")
    UserFactory(email="nobody@example.com")
    client.force_login(staff)

    # when
    response = client.get(reverse("admin:tenancy_user_changelist"))

    # then
    assert response.status_code == 200
    assert list(response.context["cl"].queryset.values_list("email", flat=True)) == [
        "colleague@alpha.example",
        "staff@alpha.example",
    ]


def test_superuser_can_add_a_membership(client, merchant_b):
    # given
    operator = UserFactory(is_staff=True, is_superuser=True, email="ops@example.com")
    client.force_login(operator)
    user = UserFactory(email="new@bravo.example")

    # when
    response = client.post(
        reverse("admin:tenancy_membership_add"),
        {
            "user": user.pk,
            "merchant": merchant_b.pk,
            "role": Role.OWNER,
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )

    # then
    assert response.status_code == 302
    assert _membership_rows() == [("new@bravo.example", "bravo", Role.OWNER)]


# --- tenant rows: every related choice is limited to the staff member's merchants -------------


def _change_form_data(response) -> dict:
    """What the browser would post back for an admin change page, unchanged."""
    from django.forms import MultiWidget

    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({f"{management.prefix}-{k}": v for k, v in management.initial.items()})
        forms += inline.formset.forms
    for form in forms:
        for bound in form:
            value = bound.value()
            if isinstance(bound.field.widget, MultiWidget):
                for index, part in enumerate(bound.field.widget.decompress(value)):
                    data[f"{bound.html_name}_{index}"] = "" if part is None else part
            elif value is not None:
                data[bound.html_name] = value
    return data


@pytest.fixture
def order_a_and_customer_b(merchant_a, merchant_b):
    order = OrderFactory(merchant=merchant_a, number="A-1", customer__email="ada@alpha.example")
    OrderLineFactory(order=order)
    return order, CustomerFactory(merchant=merchant_b, email="bob@bravo.example")


def _order_state(order):
    return Order.unscoped.filter(pk=order.pk).values("merchant__slug", "customer__email").get()


def test_staff_members_order_form_offers_only_their_merchants_rows(
    client, merchant_a, member_of, order_a_and_customer_b
):
    # given
    order, _ = order_a_and_customer_b
    staff = _staff_of(merchant_a, member_of, ["view_order", "change_order", "change_orderline"])
    client.force_login(staff)

    # when
    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))

    # then
    form = response.context["adminform"].form
    line_form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert [m.slug for m in form.fields["merchant"].queryset] == ["alpha"]
    assert [c.email for c in form.fields["customer"].queryset] == ["ada@alpha.example"]
    assert [m.slug for m in line_form.fields["merchant"].queryset] == ["alpha"]
    assert list(line_form.fields["product"].queryset) == []


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("merchant", lambda b, customer_b: b.pk, "Select a valid choice."),
        ("customer", lambda b, customer_b: customer_b.pk, "Select a valid choice."),
    ],
)
def test_staff_member_cannot_point_an_order_at_another_merchant(
    client, merchant_a, merchant_b, member_of, order_a_and_customer_b, field, value, error
):
    # given
    order, customer_b = order_a_and_customer_b
    staff = _staff_of(merchant_a, member_of, ["view_order", "change_order", "change_orderline"])
    client.force_login(staff)
    url = reverse("admin:orders_order_change", args=[order.pk])
    data = _change_form_data(client.get(url))
    before = _order_state(order)

    # when
    response = client.post(url, {**data, field: value(merchant_b, customer_b)})

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field][0].startswith(error)
    assert (
        _order_state(order)
        == before
        == {
            "merchant__slug": "alpha",
            "customer__email": "ada@alpha.example",
        }
    )


def test_unchanged_order_form_saves(client, merchant_a, member_of, order_a_and_customer_b):
    # given: the helper above posts a valid form, so the refusals are about the one field
    order, _ = order_a_and_customer_b
    staff = _staff_of(merchant_a, member_of, ["view_order", "change_order", "change_orderline"])
    client.force_login(staff)
    url = reverse("admin:orders_order_change", args=[order.pk])

    # when
    response = client.post(url, {**_change_form_data(client.get(url)), "number": "A-1b"})

    # then
    assert response.status_code == 302
    assert Order.unscoped.get(pk=order.pk).number == "A-1b"


@pytest.mark.parametrize("who", ["superuser", "member of both"])
def test_an_order_cannot_be_linked_to_another_merchants_customer(
    client, merchant_a, merchant_b, member_of, order_a_and_customer_b, who
):
    # given
    order, customer_b = order_a_and_customer_b
    if who == "superuser":
        user = UserFactory(is_staff=True, is_superuser=True)
    else:
        user = _staff_of(merchant_a, member_of, ["view_order", "change_order", "change_orderline"])
        MembershipFactory(user=user, merchant=merchant_b)
    client.force_login(user)
    url = reverse("admin:orders_order_change", args=[order.pk])
    data = _change_form_data(client.get(url))

    # when: moving the order to B but leaving it with A's customer, or the other way round
    moved = client.post(url, {**data, "merchant": merchant_b.pk})
    relinked = client.post(url, {**data, "customer": customer_b.pk})

    # then
    assert moved.status_code == relinked.status_code == 200
    assert moved.context["adminform"].form.errors["customer"] == [
        "This belongs to another merchant than Bravo Books."
    ]
    assert relinked.context["adminform"].form.errors["customer"] == [
        "This belongs to another merchant than Alpha Apparel."
    ]
    assert _order_state(order) == {
        "merchant__slug": "alpha",
        "customer__email": "ada@alpha.example",
    }


# --- raw-id widgets name only rows the form field offers --------------------------------------


@pytest.fixture
def customer_b(merchant_b):
    return CustomerFactory(
        merchant=merchant_b,
        first_name="Bartholomew",
        last_name="Bravoson",
        email="bartholomew@bravo.example",
    )


def _shows_any_of(html: str, customer) -> bool:
    return any(text in html for text in (customer.first_name, customer.last_name, customer.email))


@pytest.mark.parametrize(("who", "shown"), [("staff of A", False), ("superuser", True)])
def test_order_add_page_names_a_raw_id_customer_only_to_who_may_pick_it(
    client, merchant_a, member_of, customer_b, who, shown
):
    # given
    if who == "superuser":
        user = UserFactory(is_staff=True, is_superuser=True)
    else:
        user = _staff_of(merchant_a, member_of, ["view_order", "add_order", "change_order"])
    client.force_login(user)
    change_url = reverse("admin:orders_customer_change", args=[customer_b.pk])

    # when
    response = client.get(reverse("admin:orders_order_add"), {"customer": customer_b.pk})

    # then
    assert response.status_code == 200
    html = response.content.decode()
    if shown:
        assert f'<a href="{change_url}">Bartholomew Bravoson</a>' in html
    else:
        assert not _shows_any_of(html, customer_b)
        assert change_url not in html


def test_order_add_page_names_the_staff_members_own_raw_id_customer(client, merchant_a, member_of):
    # given: the widget still labels what the staff member may pick
    customer = CustomerFactory(merchant=merchant_a, first_name="Ada", last_name="Alphason")
    client.force_login(
        _staff_of(merchant_a, member_of, ["view_order", "add_order", "change_order"])
    )

    # when
    response = client.get(reverse("admin:orders_order_add"), {"customer": customer.pk})

    # then
    html = response.content.decode()
    assert "Ada Alphason" in html
    assert reverse("admin:orders_customer_change", args=[customer.pk]) in html


def test_rejected_order_form_names_no_customer_of_another_merchant(
    client, merchant_a, member_of, order_a_and_customer_b, customer_b
):
    # given
    order, _ = order_a_and_customer_b
    staff = _staff_of(merchant_a, member_of, ["view_order", "change_order", "change_orderline"])
    client.force_login(staff)
    url = reverse("admin:orders_order_change", args=[order.pk])
    data = _change_form_data(client.get(url))
    before = _order_state(order)

    # when
    response = client.post(url, {**data, "customer": customer_b.pk})

    # then
    assert response.status_code == 200
    assert (
        response.context["adminform"]
        .form.errors["customer"][0]
        .startswith("Select a valid choice.")
    )
    html = response.content.decode()
    assert not _shows_any_of(html, customer_b)
    assert reverse("admin:orders_customer_change", args=[customer_b.pk]) not in html
    assert _order_state(order) == before


def _raw_id_fields():
    """Every raw-id field of every admin and its inlines, so a new one is covered."""
    found = []
    for model, model_admin in admin.site._registry.items():
        owners = [model_admin] + [inline(model, admin.site) for inline in model_admin.inlines]
        found += [(owner, field) for owner in owners for field in owner.raw_id_fields]
    return found


def _related_row(model, merchant):
    factories = {
        Customer: lambda: CustomerFactory(merchant=merchant),
        Order: lambda: OrderFactory(merchant=merchant),
        Product: lambda: ProductFactory(merchant=merchant),
        OrderLine: lambda: OrderLineFactory(order=OrderFactory(merchant=merchant)),
    }
    assert model in factories, f"add a factory for {model.__name__} to this test"
    return factories[model]()


@pytest.mark.parametrize(
    ("model_admin", "field"),
    _raw_id_fields(),
    ids=[f"{owner.model.__name__}.{field}" for owner, field in _raw_id_fields()],
)
def test_every_raw_id_widget_labels_only_rows_of_the_staff_members_merchants(
    rf, merchant_a, merchant_b, member_of, model_admin, field
):
    # given
    assert isinstance(model_admin, LimitedChoicesMixin)
    request = rf.get("/admin/")
    request.user = _staff_of(merchant_a, member_of, [])
    db_field = model_admin.model._meta.get_field(field)
    own, other = (_related_row(db_field.related_model, m) for m in (merchant_a, merchant_b))
    widget = model_admin.formfield_for_dbfield(db_field, request).widget

    # when
    own_label = widget.label_and_url_for_value(own.pk)
    other_label = widget.label_and_url_for_value(other.pk)
    other_html = widget.render(field, other.pk)

    # then
    meta = own._meta
    own_url = (
        reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[own.pk])
        if model_admin.admin_site.is_registered(type(own))
        else ""
    )
    assert own_label == (str(own), own_url)
    assert other_label == ("", "")
    assert str(other) not in other_html
    assert f'value="{other.pk}"' in other_html  # the typed id itself stays in the input


def _by_hand_fk_raw_id(request):
    db_field = Order._meta.get_field("customer")
    widget = ForeignKeyRawIdWidget(db_field.remote_field, admin.site)
    return admin.site._registry[Order].formfield_for_foreignkey(db_field, request, widget=widget)


def _many_to_many_raw_id(request):
    raw_id_admin = type("RawIdUserAdmin", (UserAdmin,), {"raw_id_fields": ("groups",)})
    return raw_id_admin(User, admin.site).formfield_for_dbfield(
        User._meta.get_field("groups"), request
    )


@pytest.mark.parametrize(
    ("make_field", "field"),
    [(_by_hand_fk_raw_id, "Order.customer"), (_many_to_many_raw_id, "User.groups")],
    ids=["Django's widget passed in", "many-to-many raw id"],
)
def test_a_raw_id_widget_that_is_not_limited_is_refused(
    rf, merchant_a, member_of, make_field, field
):
    # given
    request = rf.get("/admin/")
    request.user = _staff_of(merchant_a, member_of, [])

    # when / then
    with pytest.raises(ImproperlyConfigured, match=field):
        make_field(request)
