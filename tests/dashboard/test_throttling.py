"""Brute-force limits: sign-in per account and per client address (the dashboard and /admin/),
password reset per address and per client address. The throttle's clock is moved by the tests,
never slept on; each test counts in a namespace of its own (tests/conftest.py)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.core import mail
from django.test import Client, RequestFactory

from postpurchase.dashboard import throttling
from postpurchase.dashboard.throttling import Rate, client_address, rate_parse
from postpurchase.tenancy.models import User
from tests.dashboard.conftest import PASSWORD

LOGIN_URL = "/app/login/"
ADMIN_LOGIN_URL = "/admin/login/"
RESET_URL = "/app/password-reset/"
# Starts of windows (2,111,112 windows of 900 s; 528,000 of 3,600 s): waits are whole windows.
WINDOW_START = 1_900_000_800.0
HOUR_START = 1_900_800_000.0
WRONG_SIGN_IN = "Please enter a correct email and password."
THROTTLED_SIGN_IN = "Too many sign-in attempts. For your account’s safety, try again in 15 minutes."
THROTTLED_RESET = "Too many password reset requests. Try again in 60 minutes."


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fixed = Clock(WINDOW_START)
    monkeypatch.setattr(throttling, "clock", fixed)
    return fixed


def sign_in(client, email, password, *, url=LOGIN_URL, ip="192.0.2.10"):
    # The admin's form carries where to go next, as a browser would post it.
    data = {"username": email, "password": password}
    if url == ADMIN_LOGIN_URL:
        data["next"] = "/admin/"
    return client.post(url, data, REMOTE_ADDR=ip)


def html(response) -> str:
    return response.content.decode()


def without_csrf_token(page: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def test_fifty_wrong_passwords_then_the_right_one_is_refused_until_the_window_ends(
    owner_a, client, clock
):
    # when: fifty wrong passwords, then the right one
    wrong = [sign_in(client, "owner@alpha.example", f"guess-{n}") for n in range(50)]
    right = sign_in(client, "owner@alpha.example", PASSWORD)

    # then: ten failures are answered as failures, then everything is refused unchecked
    assert [response.status_code for response in wrong] == [200] * 10 + [429] * 40
    assert WRONG_SIGN_IN in html(wrong[9])
    assert WRONG_SIGN_IN not in html(wrong[10])
    assert (right.status_code, right["Retry-After"]) == (429, "900")
    assert THROTTLED_SIGN_IN in html(right)
    assert AUTH_SESSION_KEY not in client.session

    # when: the window ends
    clock.now = WINDOW_START + 900
    after = sign_in(client, "owner@alpha.example", PASSWORD)

    # then
    assert (after.status_code, after["Location"]) == (302, "/app/")
    assert client.session[AUTH_SESSION_KEY] == str(owner_a.pk)


def test_the_account_limit_holds_from_every_address_and_whatever_the_capitals(
    owner_a, client, clock
):
    # given: ten failures, each from another address
    for n in range(10):
        sign_in(client, "owner@alpha.example", "wrong", ip=f"198.51.100.{n}")

    # when
    response = sign_in(client, "OWNER@Alpha.example", PASSWORD, ip="203.0.113.99")

    # then
    assert response.status_code == 429
    assert AUTH_SESSION_KEY not in client.session


def test_the_address_limit_counts_failures_across_accounts(owner_a, owner_b, clock):
    # given: thirty failures from one address, three on each of ten accounts
    attacker = Client()
    for n in range(30):
        sign_in(attacker, f"person{n % 10}@example.net", "wrong", ip="203.0.113.7")

    # when: a real account's right password, from that address and from another
    from_attacker = sign_in(attacker, "owner@alpha.example", PASSWORD, ip="203.0.113.7")
    elsewhere = Client()
    from_elsewhere = sign_in(elsewhere, "owner@alpha.example", PASSWORD, ip="203.0.113.8")

    # then
    assert from_attacker.status_code == 429
    assert THROTTLED_SIGN_IN in html(from_attacker)
    assert AUTH_SESSION_KEY not in attacker.session
    assert from_elsewhere.status_code == 302
    assert elsewhere.session[AUTH_SESSION_KEY] == str(owner_a.pk)


def test_sign_ins_that_succeed_are_not_counted(owner_a, clock):
    # given: thirty-five good sign-ins from one office address (over both limits if counted)
    statuses = [
        sign_in(Client(), "owner@alpha.example", PASSWORD, ip="192.0.2.44").status_code
        for _ in range(35)
    ]
    # when: then nine typos, and the right password
    client = Client()
    typos = [sign_in(client, "owner@alpha.example", "typo", ip="192.0.2.44") for _ in range(9)]
    last = sign_in(client, "owner@alpha.example", PASSWORD, ip="192.0.2.44")

    # then
    assert statuses == [302] * 35
    assert [response.status_code for response in typos] == [200] * 9
    assert last.status_code == 302


@pytest.fixture
def operator(db):
    return User.objects.create_user(
        email="operator@platform.example", password=PASSWORD, is_staff=True, is_superuser=True
    )


def test_the_admin_sign_in_shares_the_accounts_limit(operator, client, clock):
    # given: five failures on the dashboard, five on the admin
    for _ in range(5):
        sign_in(client, "operator@platform.example", "wrong")
    admin_wrong = [
        sign_in(client, "operator@platform.example", "wrong", url=ADMIN_LOGIN_URL) for _ in range(5)
    ]

    # when
    refused = sign_in(client, "operator@platform.example", PASSWORD, url=ADMIN_LOGIN_URL)

    # then: the admin's own page, with the message, and no session
    assert [response.status_code for response in admin_wrong] == [200] * 5
    assert (refused.status_code, refused["Retry-After"]) == (429, "900")
    assert '<p class="errornote">' in html(refused)
    assert THROTTLED_SIGN_IN in html(refused)
    assert AUTH_SESSION_KEY not in client.session

    # when: the window ends
    clock.now = WINDOW_START + 900
    after = sign_in(client, "operator@platform.example", PASSWORD, url=ADMIN_LOGIN_URL)

    # then
    assert (after.status_code, after["Location"]) == (302, "/admin/")
    assert client.session[AUTH_SESSION_KEY] == str(operator.pk)


def test_the_admin_address_limit_holds_across_accounts(operator, clock):
    # given
    attacker = Client()
    for n in range(30):
        sign_in(attacker, f"admin{n}@example.net", "wrong", url=ADMIN_LOGIN_URL, ip="203.0.113.5")

    # when
    response = sign_in(
        attacker, "operator@platform.example", PASSWORD, url=ADMIN_LOGIN_URL, ip="203.0.113.5"
    )

    # then
    assert response.status_code == 429
    assert AUTH_SESSION_KEY not in attacker.session


def request_reset(client, email, *, ip="192.0.2.20"):
    return client.post(RESET_URL, {"email": email}, REMOTE_ADDR=ip)


def test_twenty_resets_for_one_address_send_three_emails(owner_a, client, clock):
    # given
    clock.now = HOUR_START

    # when
    responses = [request_reset(client, "owner@alpha.example") for _ in range(20)]

    # then
    assert [response.status_code for response in responses] == [302] * 3 + [429] * 17
    assert [message.to for message in mail.outbox] == [["owner@alpha.example"]] * 3
    assert responses[3]["Retry-After"] == "3600"
    assert THROTTLED_RESET in html(responses[3])

    # when: the hour ends
    clock.now = HOUR_START + 3600
    after = request_reset(client, "owner@alpha.example")

    # then
    assert after.status_code == 302
    assert len(mail.outbox) == 4


def test_a_throttled_reset_looks_the_same_whether_the_address_has_an_account(
    owner_a, client, clock
):
    # given
    clock.now = HOUR_START

    # when
    known = [request_reset(client, "owner@alpha.example", ip="192.0.2.1") for _ in range(4)]
    unknown = [request_reset(client, "nobody@alpha.example", ip="192.0.2.2") for _ in range(4)]

    # then: the same answers, the same page but for the address typed back into the form
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [302] * 3 + [429]
    assert [r["Location"] for r in known[:3]] == [r["Location"] for r in unknown[:3]]
    assert without_csrf_token(html(known[3])).replace("owner@", "nobody@") == without_csrf_token(
        html(unknown[3])
    )
    assert len(mail.outbox) == 3


def test_resets_from_one_client_address_are_limited_across_addresses(owner_a, clock):
    # given: ten requests for ten addresses from one client address
    clock.now = HOUR_START
    attacker = Client()
    for n in range(10):
        request_reset(attacker, f"person{n}@example.net", ip="203.0.113.3")

    # when
    from_attacker = request_reset(attacker, "owner@alpha.example", ip="203.0.113.3")
    from_elsewhere = request_reset(Client(), "owner@alpha.example", ip="203.0.113.4")

    # then
    assert from_attacker.status_code == 429
    assert from_elsewhere.status_code == 302
    assert [message.to for message in mail.outbox] == [["owner@alpha.example"]]


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("192.0.2.1", "", 0, "192.0.2.1"),
        ("10.0.0.2", "6.6.6.6, 203.0.113.9", 0, "10.0.0.2"),  # no proxy trusted: forgeable
        ("10.0.0.2", "6.6.6.6, 203.0.113.9", 1, "203.0.113.9"),  # the proxy's own entry
        ("10.0.0.2", "203.0.113.9, 10.0.0.1", 2, "203.0.113.9"),
        ("10.0.0.2", "", 1, "10.0.0.2"),  # a proxy that added nothing
        ("2001:db8:1:2:3:4:5:6", "", 0, "2001:db8:1:2::/64"),  # one subscriber's block
        ("::ffff:192.0.2.7", "", 0, "192.0.2.7"),
        ("not-an-address", "", 0, "unknown"),
    ],
)
def test_the_client_address_counted(settings, remote, forwarded, proxies, expected):
    # given
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    # when / then
    assert client_address(request) == expected


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/15m", Rate(10, 900)),
        ("3/h", Rate(3, 3600)),
        ("30/s", Rate(30, 1)),
        ("5/2d", Rate(5, 172800)),
    ],
)
def test_rates_are_read_as_count_per_window(text, rate):
    assert rate_parse(text) == rate


@pytest.mark.parametrize("text", ["", "10", "10/15", "0/h", "10/0m", "ten/h", "10/15w"])
def test_a_malformed_rate_names_its_setting(text):
    with pytest.raises(ValueError) as error:
        rate_parse(text, setting="SIGN_IN_RATE_PER_IP")

    assert str(error.value) == (
        f"SIGN_IN_RATE_PER_IP: expected <count>/<window> such as 10/15m or 3/h, got {text!r}"
    )
