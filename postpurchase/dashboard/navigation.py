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
    # For an area not built yet: what it will do, on its "coming soon" page.
    coming: str = ""

    @property
    def is_soon(self) -> bool:
        return not self.url_name

    @property
    def slug(self) -> str:
        return self.label.lower().replace(" ", "-")

    @property
    def link_name(self) -> str:
        """The URL name the link goes to: the area's page, or its "coming soon" page."""
        return self.url_name or f"coming_soon_{self.slug}"


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
            NavItem(
                "Customers",
                "customers",
                coming=(
                    "Each shopper on one page: their orders, messages, consent and journeys, "
                    "with their data exported or erased on request."
                ),
            ),
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
            NavItem(
                "Tracking",
                "tracking",
                "tracking",
                also_active_on=(
                    "tracking_calibration",
                    "tracking_settings",
                    "tracking_settings_save",
                    "claim_list",
                    "claim_detail",
                    "claim_decide",
                    "claim_resolve",
                    "settings_protection",
                ),
            ),
            NavItem(
                "Returns",
                "returns",
                coming=(
                    "A self-service return portal: shoppers pick the items and a reason, choose "
                    "an exchange, store credit or a refund, and get a label with a QR code. You "
                    "set the policies, approve (or let them be approved) and refund."
                ),
            ),
            NavItem(
                "Loyalty",
                "loyalty",
                coming=(
                    "Points, tiers, rewards, referral codes and birthday rewards, earned by the "
                    "rules you set."
                ),
            ),
            NavItem(
                "Feedback",
                "feedback",
                coming=(
                    "CSAT and NPS surveys and review requests through links that need no login, "
                    "and a follow-up for every unhappy answer."
                ),
            ),
            NavItem(
                "Analytics",
                "analytics",
                coming=(
                    "Repeat-purchase rate, customer retention, CSAT, return rate, average order "
                    "value and lifetime value, and each journey's conversions and revenue."
                ),
            ),
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


def soon_items() -> list[NavItem]:
    """The areas not built yet: each has a "coming soon" page in the dashboard."""
    return [item for _, items in SECTIONS for item in items if item.is_soon]


def navigation_for(*, role: str | None, current_url_name: str | None) -> list[NavSection]:
    """The sections and links a member with ``role`` sees; empty sections are left out."""
    sections = []
    for title, items in SECTIONS:
        links = [
            NavLink(
                label=item.label,
                icon=item.icon,
                url=reverse(f"dashboard:{item.link_name}"),
                is_active=current_url_name in (item.link_name, *item.also_active_on),
                is_soon=item.is_soon,
            )
            for item in items
            if role_has_perm(role, item.perm)
        ]
        if links:
            sections.append(NavSection(title=title, links=links))
    return sections
