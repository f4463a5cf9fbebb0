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


def merchant_get_by_slug(*, slug: str) -> Merchant | None:
    return Merchant.objects.filter(slug=slug, is_active=True).first()


def api_keys_for_merchant(*, merchant: Merchant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(merchant=merchant).select_related("created_by")
