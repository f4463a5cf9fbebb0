"""Roles and what each may do: the one place permission checks are decided."""

from __future__ import annotations

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


class Perm(StrEnum):
    VIEW = "view"  # read orders, customers, journeys, analytics
    EDIT_CONTENT = "edit_content"  # journeys, templates, surveys, return policies
    MANAGE_SETTINGS = "manage_settings"  # brand, sending identity, integrations
    MANAGE_API_KEYS = "manage_api_keys"
    MANAGE_TEAM = "manage_team"  # invite, change roles, remove members


ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.VIEWER: frozenset({Perm.VIEW}),
    Role.EDITOR: frozenset({Perm.VIEW, Perm.EDIT_CONTENT}),
    Role.ADMIN: frozenset(
        {Perm.VIEW, Perm.EDIT_CONTENT, Perm.MANAGE_SETTINGS, Perm.MANAGE_API_KEYS}
    ),
    Role.OWNER: frozenset(Perm),
}


def role_has_perm(role: str | None, perm: Perm) -> bool:
    return role is not None and perm in ROLE_PERMISSIONS.get(role, frozenset())
