from django.urls import include, path

from postpurchase.dashboard import auth_views, settings_views, views
from postpurchase.dashboard.navigation import soon_items

app_name = "dashboard"

urlpatterns = [
    # Signing in and out
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    # The merchant's dashboard
    path("", views.HomeView.as_view(), name="home"),
    path("counts/", views.CountsView.as_view(), name="counts"),
    path("switch/", views.MerchantSwitchView.as_view(), name="switch_merchant"),
    # Settings
    path("settings/brand/", settings_views.BrandSettingsView.as_view(), name="settings_brand"),
    path("settings/api-keys/", settings_views.ApiKeysView.as_view(), name="settings_api_keys"),
    path(
        "settings/api-keys/<int:pk>/revoke/",
        settings_views.ApiKeyRevokeView.as_view(),
        name="settings_api_key_revoke",
    ),
    path("settings/team/", settings_views.TeamView.as_view(), name="settings_team"),
    path(
        "settings/team/<int:pk>/role/",
        settings_views.TeamMemberRoleView.as_view(),
        name="settings_team_role",
    ),
    # Pages that live in their own apps, in the dashboard's namespace.
    path("settings/integrations/", include("connectors.dashboard_urls")),
    path("settings/webhooks/", include("webhooks.dashboard_urls")),
    path("orders/", include("orders.dashboard_urls")),
    path("tracking/claims/", include("tracking.claim_dashboard_urls")),
    path("journeys/", include("journeys.dashboard_urls")),
    path("tracking/", include("tracking.dashboard_urls")),
    path("", include("notifications.dashboard_urls")),  # messages/ and settings/messages/
    # Areas not built yet: a "coming soon" page each, at the address the area will have.
    *(
        path(f"{item.slug}/", views.ComingSoonView.as_view(item=item), name=item.link_name)
        for item in soon_items()
    ),
]
