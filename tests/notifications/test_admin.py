"""The operator admin for messages: read-only, and staff see only their merchants' rows."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from notifications.models import Message
from notifications.rendering import sample_context
from notifications.services import message_send, message_template_save
from postpurchase.tenancy.permissions import Role
from tests.factories import CustomerFactory, UserFactory


def a_message(merchant, key):
    template = message_template_save(
        merchant=merchant,
        payload={
            "key": "receipt",
            "name": "Receipt",
            "channel": "email",
            "category": "transactional",
            "variants": [{"locale": "en", "subject": "Hi", "text_body": "Thanks"}],
        },
    )
    return message_send(
        merchant=merchant,
        template=template,
        customer=CustomerFactory(merchant=merchant, email=f"{key}@example.com"),
        context=sample_context(),
        idempotency_key=key,
    )


@pytest.mark.parametrize(
    "name",
    [
        "messagetemplate",
        "message",
        "suppression",
        "sendingpolicy",
        "senderdomain",
        "verifiedphone",
        "platformsendcount",
    ],
)
def test_every_page_opens_for_an_operator(db, client, name):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(reverse(f"admin:notifications_{name}_changelist"))
    assert response.status_code == 200


def test_staff_see_their_merchants_messages_only_and_change_nothing(
    client, merchant_a, merchant_b, member_of
):
    # given
    own, other = a_message(merchant_a, "a-1"), a_message(merchant_b, "b-1")
    staff = member_of(merchant_a, Role.ADMIN, is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_message", "change_message"])
    )
    client.force_login(staff)

    # when
    listed = client.get(reverse("admin:notifications_message_changelist"))
    mine = client.get(reverse("admin:notifications_message_change", args=[own.pk]))
    theirs = client.get(reverse("admin:notifications_message_change", args=[other.pk]))
    post = client.post(
        reverse("admin:notifications_message_change", args=[own.pk]), {"status": "sent"}
    )

    # then
    assert [m.pk for m in listed.context["cl"].queryset] == [own.pk]
    assert mine.status_code == 200 and "queued" in mine.content.decode()
    assert theirs.status_code == 302  # Django's admin redirects a row it cannot find
    assert post.status_code == 403
    assert Message.unscoped.get(pk=own.pk).status == "queued"
