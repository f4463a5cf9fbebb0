"""Reads for tenancy, including the access helpers that load within what a user may see."""

from __future__ import annotations

from django.db.models import QuerySet

from postpurchase.tenancy.models import ApiKey, Membership, Merchant, User


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user, merchant__is_active=True)
        .select_related("merchant")
        .order_by("merchant__name")
    )


def membership_get(*, user: User, merchant_id: int | None) -> Membership | None:
    if merchant_id is None or not user.is_authenticated:
        return None
    return memberships_for_user(user=user).filter(merchant_id=merchant_id).first()


def api_keys_for_merchant(*, merchant: Merchant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(merchant=merchant).select_related("created_by")


def team_members(*, merchant: Merchant) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(merchant=merchant)
        .select_related("user", "merchant")
        .order_by("user__email")
    )


def team_member_get(*, merchant: Merchant, membership_id: int) -> Membership | None:
    return team_members(merchant=merchant).filter(pk=membership_id).first()


def api_key_get(*, merchant: Merchant, api_key_id: int) -> ApiKey | None:
    return api_keys_for_merchant(merchant=merchant).filter(pk=api_key_id).first()
