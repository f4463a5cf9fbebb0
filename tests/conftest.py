"""Fixtures shared by every test: two merchants from day one, their users, and scoping helpers."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
from django.conf import settings

from postpurchase.tenancy.permissions import Role
from postpurchase.tenancy.scoping import merchant_scope
from postpurchase.tenancy.services import api_key_create
from tests.factories import MembershipFactory, MerchantFactory, UserFactory


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        raise pytest.UsageError(
            "The tests run on PostgreSQL: use ./scripts/test, or set "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/postpurchase and REDIS_URL."
        )
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        raise pytest.UsageError(
            "The tests run Celery on Redis: set REDIS_URL (./scripts/test does)."
        )


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2's deliberate slowness would be a large share of the suite's time, and no test is
    # about it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def strict_event_payloads(settings):
    # Every event a test records is held to its model in the event catalogue (docs/events.md),
    # whatever the environment says: the suite is where a producer whose payload drifted from
    # its declaration must fail. Tests of the "log" mode set it themselves.
    settings.EVENT_PAYLOAD_VALIDATION = "strict"


@pytest.fixture(autouse=True)
def own_throttle_counters(monkeypatch):
    # Sign-in and reset limits count in the shared Redis; each test counts apart from the others
    # (and from earlier runs), whatever it signs in with.
    from postpurchase.dashboard import throttling

    monkeypatch.setattr(throttling, "KEY_PREFIX", f"throttle-test-{uuid.uuid4().hex}")


@pytest.fixture(autouse=True)
def own_pending_flags(monkeypatch):
    # "A task is waiting for this merchant's events" is a flag in the shared Redis, keyed by
    # merchant id: each test holds its own (a worker it starts reads the key from the task).
    from postpurchase import pending

    monkeypatch.setattr(pending, "KEY_PREFIX", f"pending-test-{uuid.uuid4().hex}")


@pytest.fixture(autouse=True)
def own_estimate_cache(monkeypatch):
    # A merchant's transit times are cached in the shared Redis by merchant id: each test reads
    # its own deliveries, not another's of the same id.
    from orders import estimates

    monkeypatch.setattr(estimates, "CACHE_PREFIX", f"estimates-test-{uuid.uuid4().hex}")


@pytest.fixture(autouse=True)
def own_webhook_send_slots(monkeypatch):
    # Each merchant's in-flight webhook slots live in the shared Redis, keyed by merchant id:
    # each test holds its own, apart from parallel test databases' merchants of the same id.
    from webhooks import concurrency

    monkeypatch.setattr(concurrency, "KEY_PREFIX", f"webhook-slots-test-{uuid.uuid4().hex}")


@pytest.fixture(autouse=True)
def own_tracking_counts(monkeypatch, settings):
    # The tracking page's views wait in the shared Redis until a flush: each test counts in its
    # own hash, apart from other tests' merchants and shipments of the same ids. They go there
    # as they are counted (a process's one-second batch has tests of its own: test_counters).
    from tracking import counters

    monkeypatch.setattr(counters, "KEY_PREFIX", f"tracking-counts-test-{uuid.uuid4().hex}")
    settings.TRACKING_COUNTS_PROCESS_SECONDS = 0


@pytest.fixture(autouse=True)
def fresh_shopper_merchants():
    # The shopper pages keep merchants' rows in process memory for a few seconds. A test's rows
    # are rolled back without a signal, and the next test's merchant may have the same slug.
    from postpurchase.shopper import views

    views._merchants.clear()


@pytest.fixture
def merchant_a(db):
    return MerchantFactory(
        slug="alpha",
        name="Alpha Apparel",
        timezone="America/New_York",
        currency="USD",
        country="US",
    )


@pytest.fixture
def merchant_b(db):
    return MerchantFactory(
        slug="bravo", name="Bravo Books", timezone="Europe/Berlin", currency="EUR", country="DE"
    )


@pytest.fixture
def in_a(merchant_a):
    with merchant_scope(merchant_a):
        yield merchant_a


@pytest.fixture
def in_b(merchant_b):
    with merchant_scope(merchant_b):
        yield merchant_b


@pytest.fixture
def member_of(db):
    """``member_of(merchant, role)`` → a user with that role in that merchant."""

    def make(merchant, role=Role.OWNER, **user_fields):
        user = UserFactory(**user_fields)
        MembershipFactory(user=user, merchant=merchant, role=role)
        return user

    return make


@pytest.fixture
def owner_a(merchant_a, member_of):
    return member_of(merchant_a, Role.OWNER, email="owner@alpha.example")


@pytest.fixture
def owner_b(merchant_b, member_of):
    return member_of(merchant_b, Role.OWNER, email="owner@bravo.example")


# --- Browser tests: Playwright driving Debian's Chromium against pytest-django's live server. ---
# One browser per test session, shared by every test folder that drives one.
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Playwright's sync API keeps an event loop on the test thread; the ORM calls these tests make
# (to set up data and check results) are ordinary blocking calls, not calls from async code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        raise pytest.UsageError(
            f"Browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium; "
            "./scripts/test installs it when it can)."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Every Content Security Policy violation a page reports, whatever page of the context it is on.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__reportCspViolation(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} on ${location.pathname}`
  );
});
"""


@pytest.fixture
def page(browser):
    """A fresh page; the test fails if any page it opened broke its Content Security Policy
    (reported by the page's ``securitypolicyviolation`` event or Chromium's console)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    violations: list[str] = []
    context.expose_function("__reportCspViolation", lambda text: violations.append(text))
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    page.set_default_timeout(10_000)
    page.csp_violations = violations
    yield page
    context.close()
    assert violations == []  # Content Security Policy violations


# --- API clients holding each merchant's keys ---------------------------------------------------
def client_for(merchant, scope="write"):
    """An API client holding a new key of ``merchant`` (``client.api_key`` is the key's row)."""
    from rest_framework.test import APIClient

    issued = api_key_create(merchant=merchant, name=f"{scope} key", scope=scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")
    client.api_key = issued.api_key
    return client


@pytest.fixture
def api_a(merchant_a):
    return client_for(merchant_a)


@pytest.fixture
def api_b(merchant_b):
    return client_for(merchant_b)


@pytest.fixture
def api_a_read(merchant_a):
    return client_for(merchant_a, scope="read")
