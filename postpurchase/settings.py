"""Settings, all read from the environment (django-environ).

With no environment at all you get the embedded default: SQLite in ``var/``, Celery on kombu's
``filesystem://`` transport in ``var/broker/``, email to the console. ``DATABASE_URL`` and
``REDIS_URL`` (or ``CELERY_BROKER_URL``) switch to PostgreSQL and Redis. ``PRODUCTION=true``
requires every secret, host, database, broker and site URL setting to be given (no embedded
fallback: a production process on SQLite and a folder broker would lose data quietly) and turns
on the deployment hardening that ``manage.py check --deploy`` asks for. ``.env.example``
documents each variable.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(str(env_file))

PRODUCTION = env.bool("PRODUCTION", default=False)
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))


def _required(var: str) -> str:
    """A production variable with no default; an empty value counts as unset."""
    value = env.str(var)
    if not value:
        raise ImproperlyConfigured(f"Set the {var} environment variable")
    return value


if PRODUCTION:
    # No defaults: a production start without these fails loudly.
    SECRET_KEY = env.str("SECRET_KEY")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS")
    DEBUG = False
else:
    SECRET_KEY = env.str("SECRET_KEY", default="embedded-mode-insecure-key-change-me-" + "x" * 24)
    ALLOWED_HOSTS = env.list(
        "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"]
    )
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
    DEBUG = env.bool("DEBUG", default=True)
# Lets gunicorn serve the embedded mode (postpurchase/wsgi.py refuses to otherwise): for a trial
# or a benchmark on a machine of your own, never on a server others can reach.
ALLOW_INSECURE_EMBEDDED = env.bool("ALLOW_INSECURE_EMBEDDED", default=False)

# Keys that encrypt secrets stored in the database (merchants' webhook secrets, provider
# credentials): comma-separated Fernet keys, the first encrypts, all decrypt (rotation). The
# embedded mode derives one from SECRET_KEY; production must give its own, kept apart from
# SECRET_KEY so rotating one does not make the other's data unreadable.
if PRODUCTION:
    _required("ENCRYPTION_KEYS")
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[])

# Base URL used to build absolute links in emails and signed shopper links. In production it must
# be https:// (checked with SECURE_SSL_REDIRECT below): those links carry reset and shopper tokens.
SITE_URL = (
    _required("SITE_URL") if PRODUCTION else env.str("SITE_URL", default="http://127.0.0.1:8000")
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "anymail",
    "postpurchase.tenancy",
    "postpurchase.events",
    "postpurchase.api",
    "postpurchase.dashboard",
    "postpurchase.retention",
    "orders",
    "journeys",
    "notifications",
    "returns",
    "loyalty",
    "feedback",
    "analytics",
    "connectors",
    "webhooks",
    "tracking",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "postpurchase.csp.ContentSecurityPolicyMiddleware",  # the dashboard's and the admin's CSP
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's session, auth and messages middleware, skipped under /s/ (the shopper pages use
    # none of them: postpurchase/shopper/middleware.py)
    "postpurchase.shopper.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "postpurchase.shopper.middleware.AuthenticationMiddleware",
    "postpurchase.shopper.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "postpurchase.tenancy.middleware.CurrentMerchantMiddleware",
]

ROOT_URLCONF = "postpurchase.urls"
WSGI_APPLICATION = "postpurchase.wsgi.application"
ASGI_APPLICATION = "postpurchase.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "postpurchase.dashboard.context_processors.dashboard",
            ],
        },
    },
    # The shopper shell's pages (jinja_templates/shopper/), in Jinja2 for speed
    # (postpurchase/shopper/jinja.py).
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "jinja_templates"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "postpurchase.shopper.jinja.environment"},
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url_config(
        _required("DATABASE_URL")
        if PRODUCTION
        else env.str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
    ),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
# A kept connection is checked before its first use in a request or task, so one the database
# dropped (a restart, a failover) is replaced instead of failing that request or task.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The hot pages' plain statements (postpurchase/rows.py) are prepared on the PostgreSQL server
# once per connection. Off behind a pooler in transaction mode (PgBouncer's), which may run the
# EXECUTE on another server connection than the PREPARE.
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the worker write while the web process reads; the timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# The cache is shared by every web and worker process (rate limits, locks), so production needs a
# Redis for it; only the embedded mode falls back to files.
CACHE_URL = env.str("CACHE_URL", default="") or REDIS_URL
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="pp"),
        }
    }
elif PRODUCTION:
    raise ImproperlyConfigured("Set the CACHE_URL or REDIS_URL environment variable")
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "tenancy.User"
LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "dashboard:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
# Brute-force limits (postpurchase/dashboard/throttling.py), "<count>/<window>" with the window in
# s, m, h or d ("10/15m"): failed sign-ins per account typed and per client address (dashboard and
# /admin/), password-reset requests per address typed and per client address. Counted in the cache.
SIGN_IN_RATE_PER_ACCOUNT = env.str("SIGN_IN_RATE_PER_ACCOUNT", default="10/15m")
SIGN_IN_RATE_PER_IP = env.str("SIGN_IN_RATE_PER_IP", default="30/15m")
PASSWORD_RESET_RATE_PER_EMAIL = env.str("PASSWORD_RESET_RATE_PER_EMAIL", default="3/h")
PASSWORD_RESET_RATE_PER_IP = env.str("PASSWORD_RESET_RATE_PER_IP", default="10/h")
# Shopper order lookups (postpurchase/shopper/lookup.py), found or not: per client address, and
# per order number typed (whatever address tries it).
SHOPPER_LOOKUP_RATE_PER_IP = env.str("SHOPPER_LOOKUP_RATE_PER_IP", default="20/h")
SHOPPER_LOOKUP_RATE_PER_ORDER = env.str("SHOPPER_LOOKUP_RATE_PER_ORDER", default="5/h")
# How long a process keeps a merchant's row for its shopper pages (postpurchase/shopper/views.py):
# a change of brand, or a merchant switched off, shows on every process's pages within this.
# 0: read on every request.
SHOPPER_MERCHANT_SECONDS = env.float("SHOPPER_MERCHANT_SECONDS", default=5.0)
# Proxies in front of the web processes that append to X-Forwarded-For (a load balancer, a TLS
# proxy): the client's address is the entry this many places from the right. 0: REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- I18N -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Email ----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# Seconds an SMTP server may take to answer before the send counts as a transient failure (and is
# retried); without it a server that accepts and never answers holds a hand-off run until the
# task's time limit.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=30.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Post-purchase <no-reply@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# A platform-wide ESP instead of EMAIL_URL's backend, e.g. anymail.backends.postmark.EmailBackend,
# with its settings as EMAIL_OPTION_<NAME> variables (EMAIL_OPTION_SERVER_TOKEN=…), passed to it
# alone: never put them in ANYMAIL, where a merchant's own provider would find them.
PLATFORM_EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="") or EMAIL_CONFIG["EMAIL_BACKEND"]
PLATFORM_EMAIL_OPTIONS = {
    name.removeprefix("EMAIL_OPTION_").lower(): value
    for name, value in os.environ.items()
    if name.startswith("EMAIL_OPTION_") and value
}
if env.str("EMAIL_BACKEND", default=""):
    EMAIL_BACKEND = "notifications.platform_email.PlatformEmailBackend"
# anymail's settings here serve its webhooks only: the basic-auth secret and an ESP's webhook
# signing key (ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY=…). Sending credentials are refused here.
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): value
    for name, value in os.environ.items()
    if name.startswith("ANYMAIL_") and value
}
for _name in ANYMAIL:
    if _name != "WEBHOOK_SECRET" and "WEBHOOK" not in _name and "SIGNING" not in _name:
        raise ImproperlyConfigured(
            f"ANYMAIL_{_name}: give the platform's email provider its credentials as "
            f"EMAIL_OPTION_* variables (ANYMAIL_* holds webhook settings only)"
        )
# The basic-auth "user:password" ESPs put in the tracking webhook URL (/webhooks/email/<esp>/).
if PRODUCTION:
    ANYMAIL["WEBHOOK_SECRET"] = _required("ANYMAIL_WEBHOOK_SECRET")
# Where the mailto: of List-Unsubscribe points: a mailbox whose mail the ESP's inbound webhook
# (/webhooks/email/<esp>/inbound/) brings back, so a reply unsubscribes by itself. Empty: the
# merchant's support address (its staff then act on those emails).
UNSUBSCRIBE_MAILTO = env.str("UNSUBSCRIBE_MAILTO", default="")

# --- SMS ------------------------------------------------------------------------------------
# The platform's Twilio account, for merchants that have not set their own.
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
# With no Twilio account at all, write texts to the log and count them sent (the embedded mode);
# in production such a text fails with "not_configured".
SMS_LOG_ONLY = env.bool("SMS_LOG_ONLY", default=not PRODUCTION)
# A dotted path to a twilio.http.HttpClient subclass to send through (tests record requests).
TWILIO_HTTP_CLIENT = env.str("TWILIO_HTTP_CLIENT", default="")

# --- Sending on the platform's providers (merchants without their own ESP / Twilio) ---------
# Messages per merchant per local day; past it they wait for the next day (0: no limit).
PLATFORM_EMAIL_DAILY_QUOTA = env.int("PLATFORM_EMAIL_DAILY_QUOTA", default=2000)
PLATFORM_SMS_DAILY_QUOTA = env.int("PLATFORM_SMS_DAILY_QUOTA", default=200)
# Countries (ISO codes) texts may go to on the platform's Twilio besides the merchant's own.
PLATFORM_SMS_COUNTRIES = [c.upper() for c in env.list("PLATFORM_SMS_COUNTRIES", default=[])]
# Test sends (template and settings tests) per merchant per hour.
TEST_SENDS_PER_HOUR = env.int("TEST_SENDS_PER_HOUR", default=20)
# The DKIM key the platform's ESP signs merchants' domains with, if it offers one: a merchant
# who publishes it at <selector>._domainkey.<domain> has verified its sender domain.
SENDER_DKIM_SELECTOR = env.str("SENDER_DKIM_SELECTOR", default="")
SENDER_DKIM_PUBLIC_KEY = env.str("SENDER_DKIM_PUBLIC_KEY", default="")
SENDER_DNS_TIMEOUT = env.float("SENDER_DNS_TIMEOUT", default=5.0)

# --- Celery ---------------------------------------------------------------------------------
# "localhost" only spares kombu a warning; the filesystem transport has no host.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
if not CELERY_BROKER_URL and PRODUCTION:
    raise ImproperlyConfigured("Set the CELERY_BROKER_URL or REDIS_URL environment variable")
CELERY_BROKER_URL = CELERY_BROKER_URL or "filesystem://localhost//"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redis hands a message delivered and never acknowledged (its worker was killed) to another
    # worker after this many seconds. Longer than any task's time limit (300 s) plus the time a
    # reserved message may wait, so a slow task is not re-delivered while it still runs; RabbitMQ
    # needs none (it re-delivers as soon as the dead worker's connection closes).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=60 * 60)
    }
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
# Celery's Django fix-up closes the database connection before and after every task unless this
# is set: a new PostgreSQL connection per task, whatever DB_CONN_MAX_AGE says. Set, it leaves
# them to postpurchase.celery, which treats a task as Django treats a request (DB_CONN_MAX_AGE).
CELERY_DB_REUSE_MAX = 2**62
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
EVENT_SWEEP_SECONDS = env.float("EVENT_SWEEP_SECONDS", default=30.0)
# How long a queued event dispatch task may wait before the sweep counts it lost and enqueues
# another (doubled for each one enqueued with none run since). Longer than any task may run.
EVENT_DISPATCH_LEASE_SECONDS = env.float("EVENT_DISPATCH_LEASE_SECONDS", default=600.0)
# What a recorded event whose payload does not match its catalogue model does: "strict" refuses
# it (DomainError naming the type and the field), the default with DEBUG on (development, the
# embedded mode) and in the test suite (tests/conftest.py), so a producer drifting from its
# declared payload fails where it is written; "log", production's default, logs that error and
# records the event as built, the safety valve that never costs an order a lagging description.
EVENT_PAYLOAD_VALIDATION = env.str("EVENT_PAYLOAD_VALIDATION", default="strict" if DEBUG else "log")
if EVENT_PAYLOAD_VALIDATION not in ("log", "strict"):
    raise ImproperlyConfigured('EVENT_PAYLOAD_VALIDATION is "log" or "strict".')
CELERY_BEAT_SCHEDULE = {
    "events-sweep": {
        "task": "postpurchase.events.tasks.event_sweep",
        "schedule": timedelta(seconds=EVENT_SWEEP_SECONDS),
        "options": {"queue": "events", "expires": EVENT_SWEEP_SECONDS},
    },
}

# --- Django REST framework ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["postpurchase.tenancy.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["postpurchase.tenancy.authentication.HasApiKeyScope"],
    "DEFAULT_THROTTLE_CLASSES": ["postpurchase.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "postpurchase.api.pagination.ApiCursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON in and out only: an API client never gets an HTML page, not even the browsable API.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["postpurchase.api.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "postpurchase.api.exceptions.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
    # No OPTIONS self-description: the OpenAPI schema is the description.
    "DEFAULT_METADATA_CLASS": None,
    "COERCE_DECIMAL_TO_STRING": True,
}
# Seconds a web process trusts an API key it has looked up, sparing a query per request: a
# revoked key (or a deactivated merchant) is refused by every process within this time. 0: never.
API_KEY_CACHE_SECONDS = env.float("API_KEY_CACHE_SECONDS", default=5.0)
# Requests per API key (DRF's "<n>/<s|m|h|d>"), counted in the shared cache.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="200/s")
# A bulk request of 1,000 orders is a few megabytes of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)
SPECTACULAR_SETTINGS = {
    "TITLE": "Post-purchase platform API",
    "DESCRIPTION": (
        "Connect a store: customers, products, orders (one at a time or in bulk), shipments "
        "and their tracking, custom events, and outbound webhook endpoints. Authenticate with "
        "`Authorization: Bearer <API key>`. Errors are `application/problem+json` (RFC 9457). "
        "See docs/api.md for a walk-through."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "postpurchase.api.schema.document_shared_behaviour",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ShipmentStatusEnum": "orders.models.ShipmentStatus",
        "FinancialStatusEnum": "orders.models.FinancialStatus",
        "FulfillmentStatusEnum": "orders.models.FulfillmentStatus",
        "EstimateBasisEnum": "orders.serializers.ESTIMATE_BASES",
        "ShipmentDelayReasonEnum": "tracking.serializers.SHIPMENT_DELAY_REASONS",
    },
}
CELERY_BEAT_SCHEDULE["idempotency-purge"] = {
    "task": "postpurchase.api.tasks.idempotency_purge",
    "schedule": timedelta(hours=1),
    "options": {"queue": "default", "expires": 3600},
}

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "postpurchase.api.exceptions.csrf_failure"
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Plain http is accepted only where the site itself is plain http (a local compose stack).
    _plain_http_site = SITE_URL.startswith("http://") and not SECURE_SSL_REDIRECT
    if not (SITE_URL.startswith("https://") or _plain_http_site):
        raise ImproperlyConfigured(
            f"SITE_URL must be an https:// URL in production (got {SITE_URL!r}); "
            "http:// is accepted only with SECURE_SSL_REDIRECT=false."
        )
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

if not PRODUCTION:
    for _sub in ("broker/out", "broker/processed", "broker/control", "cache", "media", "static"):
        (VAR_DIR / _sub).mkdir(parents=True, exist_ok=True)

# --- Inbound webhooks (connectors app) ------------------------------------------------------
# How often the beat re-enqueues deliveries whose task was lost or whose retry is due.
CONNECTORS_SWEEP_SECONDS = env.float("CONNECTORS_SWEEP_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE["connectors-sweep"] = {
    "task": "connectors.tasks.inbound_delivery_sweep",
    "schedule": timedelta(seconds=CONNECTORS_SWEEP_SECONDS),
    "options": {"queue": "integrations", "expires": CONNECTORS_SWEEP_SECONDS},
}

# --- Outbound webhooks (webhooks app) -------------------------------------------------------
# Loopback destinations (127.0.0.1, ::1, localhost) for local development and tests only; every
# other private, link-local or reserved address is always refused.
WEBHOOKS_ALLOW_LOOPBACK = env.bool("WEBHOOKS_ALLOW_LOOPBACK", default=False)
# How often beat looks for webhook deliveries due a retry (or whose send task was lost).
WEBHOOKS_SWEEP_SECONDS = env.float("WEBHOOKS_SWEEP_SECONDS", default=15.0)
CELERY_BEAT_SCHEDULE["webhooks-due"] = {
    "task": "webhooks.tasks.webhook_deliveries_sweep",
    "schedule": timedelta(seconds=WEBHOOKS_SWEEP_SECONDS),
    "options": {"queue": "integrations", "expires": WEBHOOKS_SWEEP_SECONDS},
}
# One merchant's slow receivers must not hold every integrations worker: at most this many of
# its requests are in flight at once (a send over the cap waits a few seconds, it does not
# fail), and it may have at most this many endpoints.
WEBHOOKS_MAX_IN_FLIGHT_PER_MERCHANT = env.int("WEBHOOKS_MAX_IN_FLIGHT_PER_MERCHANT", default=2)
WEBHOOKS_MAX_ENDPOINTS_PER_MERCHANT = env.int("WEBHOOKS_MAX_ENDPOINTS_PER_MERCHANT", default=10)
# Delivery logs are kept 30 days; the purge deletes older ones in batches.
CELERY_BEAT_SCHEDULE["webhooks-purge"] = {
    "task": "webhooks.tasks.webhook_deliveries_purge",
    "schedule": timedelta(hours=1),
    "options": {"queue": "default", "expires": 3600},
}

# --- Messages (notifications app) -----------------------------------------------------------
# How often beat hands due messages to the channels: deferrals that ended, retries, lost tasks.
MESSAGES_SWEEP_SECONDS = env.float("MESSAGES_SWEEP_SECONDS", default=10.0)
CELERY_BEAT_SCHEDULE["messages-due"] = {
    "task": "notifications.tasks.messages_due_sweep",
    "schedule": timedelta(seconds=MESSAGES_SWEEP_SECONDS),
    "options": {"queue": "messages", "expires": MESSAGES_SWEEP_SECONDS},
}
# Merchants' templates render in a pool of processes per web or worker process
# (notifications.render_pool), each under an address-space and a per-message CPU limit.
RENDER_POOL_WORKERS = env.int("RENDER_POOL_WORKERS", default=1)
RENDER_MEMORY_MB = env.int("RENDER_MEMORY_MB", default=256)
RENDER_CPU_SECONDS = env.float("RENDER_CPU_SECONDS", default=5.0)

# --- Journeys -------------------------------------------------------------------------------
# How often beat runs the scheduler: due enrollments (delays that ended, waits that timed out).
JOURNEYS_TICK_SECONDS = env.float("JOURNEYS_TICK_SECONDS", default=5.0)
# Enrollments a tick advances per transaction.
JOURNEYS_TICK_BATCH = env.int("JOURNEYS_TICK_BATCH", default=500)
CELERY_BEAT_SCHEDULE["journeys-tick"] = {
    "task": "journeys.tasks.journeys_tick",
    "schedule": timedelta(seconds=JOURNEYS_TICK_SECONDS),
    "options": {"queue": "journeys", "expires": JOURNEYS_TICK_SECONDS},
}
# Date (birthday, order anniversary) and inactivity entries, looked for every hour; each date or
# inactivity period enters a customer once.
CELERY_BEAT_SCHEDULE["journeys-scheduled-entries"] = {
    "task": "journeys.tasks.journeys_scheduled_entries",
    "schedule": timedelta(hours=1),
    "options": {"queue": "journeys", "expires": 3600},
}

# --- Log retention (postpurchase.retention; docs/retention.md) ------------------------------
# Days each log is kept (0: for ever). Rows in flight (an event still to dispatch, a message
# still to send, a delivery pending, the steps of a running enrollment) are never removed.
# Consumer runs and step logs are partitioned by month on PostgreSQL: a month goes once all of
# it is older than its retention, on SQLite too. A message's timeline goes with the message.
EVENTS_RETENTION_DAYS = env.int("EVENTS_RETENTION_DAYS", default=396)
EVENT_CONSUMER_RUNS_RETENTION_DAYS = env.int("EVENT_CONSUMER_RUNS_RETENTION_DAYS", default=30)
MESSAGES_RETENTION_DAYS = env.int("MESSAGES_RETENTION_DAYS", default=396)
JOURNEY_STEP_LOGS_RETENTION_DAYS = env.int("JOURNEY_STEP_LOGS_RETENTION_DAYS", default=396)
DELAY_INCIDENTS_RETENTION_DAYS = env.int("DELAY_INCIDENTS_RETENTION_DAYS", default=396)
# Finished outbound webhook deliveries (with their attempts), purged by ``webhooks-purge``.
WEBHOOK_DELIVERIES_RETENTION_DAYS = env.int("WEBHOOK_DELIVERIES_RETENTION_DAYS", default=30)
# Rows per delete transaction, and the time one run spends deleting (shared between the logs).
LOGS_RETENTION_BATCH = env.int("LOGS_RETENTION_BATCH", default=5000)
LOGS_RETENTION_BUDGET_SECONDS = env.float("LOGS_RETENTION_BUDGET_SECONDS", default=120.0)
# Monthly partitions made ahead of the current month (PostgreSQL).
LOGS_PARTITIONS_AHEAD_MONTHS = env.int("LOGS_PARTITIONS_AHEAD_MONTHS", default=2)
CELERY_BEAT_SCHEDULE["logs-retain"] = {
    "task": "postpurchase.retention.tasks.logs_retain",
    "schedule": timedelta(hours=1),
    "options": {"queue": "default", "expires": 3600},
}

# --- Tracking (tracking app; docs/tracking.md) -----------------------------------------------
# The delay scan: every merchant's late shipments and orders, once per incident, every hour.
CELERY_BEAT_SCHEDULE["tracking-delays"] = {
    "task": "tracking.tasks.delays_scan",
    "schedule": timedelta(hours=1),
    "options": {"queue": "default", "expires": 3600},
}
# The tracking page's views are counted in Redis (the cache's, when it is Redis) and added to the
# database every TRACKING_COUNTS_FLUSH_SECONDS (tracking/counters.py); without Redis, or with
# TRACKING_COUNTS_BUFFERED=false, each view is written as it happens.
TRACKING_COUNTS_BUFFERED = env.bool("TRACKING_COUNTS_BUFFERED", default=True)
TRACKING_COUNTS_REDIS_URL = CACHE_URL if CACHE_URL.startswith(("redis://", "rediss://")) else ""
TRACKING_COUNTS_FLUSH_SECONDS = env.int("TRACKING_COUNTS_FLUSH_SECONDS", default=10)
# Each web process sums its views this long before sending them to Redis in one round trip
# (0: one round trip per view).
TRACKING_COUNTS_PROCESS_SECONDS = env.float("TRACKING_COUNTS_PROCESS_SECONDS", default=1.0)
CELERY_BEAT_SCHEDULE["tracking-counts"] = {
    "task": "tracking.tasks.counts_flush",
    "schedule": timedelta(seconds=TRACKING_COUNTS_FLUSH_SECONDS),
    "options": {"queue": "default", "expires": TRACKING_COUNTS_FLUSH_SECONDS},
}
# Products bought together (the tracking page's suggestions), recounted from orders daily.
CELERY_BEAT_SCHEDULE["tracking-pairings"] = {
    "task": "tracking.tasks.pairings_refresh",
    "schedule": timedelta(days=1),
    "options": {"queue": "default", "expires": 86400},
}
