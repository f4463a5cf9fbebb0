from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.templatetags.static import static as static_url
from django.urls import include, path
from django.views.generic import RedirectView

from postpurchase.dashboard import auth_views
from postpurchase.dashboard.forms import AdminSignInForm


def healthz(request):
    """Liveness and database check for load balancers and docker-compose."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def robots(request):
    return HttpResponse("User-agent: *\nDisallow: /\n", content_type="text/plain")


def favicon(request):
    """Browsers ask for /favicon.ico where a page names no icon (the admin, JSON, files). Not a
    permanent redirect: the target's name carries its content's hash in production."""
    response = HttpResponseRedirect(static_url("favicon.svg"))
    response["Cache-Control"] = "max-age=86400"
    return response


handler400 = "postpurchase.api.exceptions.bad_request"
handler404 = "postpurchase.api.exceptions.page_not_found"
handler500 = "postpurchase.api.exceptions.server_error"

admin.site.site_header = "Post-purchase platform operations"
admin.site.site_title = "Post-purchase admin"
admin.site.login_form = AdminSignInForm  # throttled like the dashboard's sign-in

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:home", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("robots.txt", robots),
    path("favicon.ico", favicon),
    path("admin/login/", auth_views.admin_login),  # admin's own view, throttled (429)
    path("admin/", admin.site.urls),
    path("app/", include("postpurchase.dashboard.urls")),
    path("api/v1/", include("postpurchase.api.urls")),
    # Delivery reports and replies from email providers and Twilio (signed by the sender).
    path("webhooks/", include("notifications.webhook_urls")),
    # Shopper pages on the shell (postpurchase/shopper), each app's included there.
    path("s/<slug:merchant_slug>/", include("postpurchase.shopper.urls")),
    # Webhooks from stores and carriers (signed by the sender, no session, no CSRF).
    path("webhooks/", include("connectors.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
