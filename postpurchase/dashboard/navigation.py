"""The dashboard's navigation: what each section links to and who may see it."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse

from postpurchase.tenancy.permissions import Perm, role_has_perm


@dataclass(frozen=True)
class NavItem:
    label: str
    icon: str
    url_name: str = ""  # empty: an area that is not built yet ("soon")
    perm: Perm = Perm.VIEW
    # Other pages that belong to this item, so it stays highlighted on them.
    also_active_on: tuple[str, ...] = field(default=())

    @property
    def is_soon(self) -> bool:
        return not self.url_name


@dataclass(frozen=True)
class NavLink:
    label: str
    icon: str
    url: str
    is_active: bool
    is_soon: bool


@dataclass(frozen=True)
class NavSection:
    title: str
    links: list[NavLink]


SECTIONS: tuple[tuple[str, tuple[NavItem, ...]], ...] = (
    (
        "",
        (
            NavItem("Home", "home", "home"),
            NavItem("Orders", "orders", "order_list", also_active_on=("order_detail",)),
            NavItem("Customers", "customers"),
            NavItem(
                "Journeys",
                "journeys",
                "journey_list",
                also_active_on=(
                    "journey_create",
                    "journey_detail",
                    "journey_save",
                    "journey_json_save",
                    "journey_enrollments",
                    "journey_enrollment_detail",
                ),
            ),
            NavItem(
                "Messages",
                "messages",
                "message_list",
                also_active_on=(
                    "message_detail",
                    "message_template_list",
                    "message_template_create",
                    "message_template_detail",
                    "message_template_save",
                    "message_template_test",
                    "message_template_version",
                ),
            ),
            NavItem("Tracking", "tracking"),
            NavItem("Returns", "returns"),
            NavItem("Loyalty", "loyalty"),
            NavItem("Feedback", "feedback"),
            NavItem("Analytics", "analytics"),
        ),
    ),
    (
        "Settings",
        (
            NavItem("Brand settings", "brand", "settings_brand", Perm.MANAGE_SETTINGS),
            NavItem("API keys", "key", "settings_api_keys", Perm.MANAGE_API_KEYS),
            NavItem("Team", "team", "settings_team", Perm.MANAGE_TEAM),
            NavItem("Integrations", "plug", "settings_integrations", Perm.MANAGE_SETTINGS),
            NavItem(
                "Webhooks",
                "webhook",
                "settings_webhooks",
                Perm.MANAGE_SETTINGS,
                also_active_on=("settings_webhook_detail", "settings_webhook_rotate_secret"),
            ),
            # Readable by every member (changing it needs MANAGE_SETTINGS, checked on the page).
            NavItem(
                "Message settings",
                "messages",
                "settings_messages",
                Perm.VIEW,
                also_active_on=(
                    "settings_messages_channels",
                    "settings_messages_policy",
                    "settings_messages_test",
                ),
            ),
        ),
    ),
)


def navigation_for(*, role: str | None, current_url_name: str | None) -> list[NavSection]:
    """The sections and links a member with ``role`` sees; empty sections are left out."""
    sections = []
    for title, items in SECTIONS:
        links = [
            NavLink(
                label=item.label,
                icon=item.icon,
                url=reverse(f"dashboard:{item.url_name}") if item.url_name else "",
                is_active=bool(item.url_name)
                and current_url_name in (item.url_name, *item.also_active_on),
                is_soon=item.is_soon,
            )
            for item in items
            if role_has_perm(role, item.perm)
        ]
        if links:
            sections.append(NavSection(title=title, links=links))
    return sections
