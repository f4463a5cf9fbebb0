"""Signing in with an email, signing out, and resetting a forgotten password by email."""

from __future__ import annotations

import re

from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.core import mail
from django.urls import reverse

from tests.dashboard.conftest import PASSWORD

LOGIN_URL = "/app/login/"


def test_login_page_renders(client):
    # given / when
    response = client.get(reverse("dashboard:login"))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_username">Email</label>' in html
    assert 'type="email" name="username"' in html
    assert '<a href="/app/password-reset/">Forgot your password?</a>' in html


def test_login_with_email_and_password_opens_the_dashboard(owner_a, client):
    # given: the address typed with other capitals than it was stored with
    # when
    response = client.post(
        reverse("dashboard:login"), {"username": "Owner@Alpha.example", "password": PASSWORD}
    )
    # then
    assert response.status_code == 302
    assert response["Location"] == "/app/"
    assert client.session[AUTH_SESSION_KEY] == str(owner_a.pk)
    home = client.get("/app/")
    assert home.status_code == 200
    assert home.context["current_merchant"].slug == "alpha"


def test_login_follows_next(owner_a, client):
    # given / when
    response = client.post(
        f"{LOGIN_URL}?next=/app/orders/",
        {"username": "owner@alpha.example", "password": PASSWORD, "next": "/app/orders/"},
    )
    # then
    assert response["Location"] == "/app/orders/"


def test_login_with_a_wrong_password_is_refused(owner_a, client):
    # given / when
    response = client.post(
        reverse("dashboard:login"), {"username": "owner@alpha.example", "password": "wrong"}
    )
    # then
    assert response.status_code == 200
    assert AUTH_SESSION_KEY not in client.session
    assert "Please enter a correct email and password." in response.content.decode()


def test_signed_in_user_visiting_login_goes_home(owner_a, client_for):
    # given / when
    response = client_for(owner_a).get(reverse("dashboard:login"))
    # then
    assert response.status_code == 302
    assert response["Location"] == "/app/"


def test_logout_signs_out_and_returns_to_login(owner_a, client_for):
    # given
    client = client_for(owner_a)
    # when
    response = client.post(reverse("dashboard:logout"))
    # then
    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert AUTH_SESSION_KEY not in client.session
    assert client.get("/app/")["Location"] == f"{LOGIN_URL}?next=/app/"


def test_logout_by_get_is_not_allowed(owner_a, client_for):
    # given
    client = client_for(owner_a)
    # when
    response = client.get(reverse("dashboard:logout"))
    # then
    assert response.status_code == 405
    assert client.session[AUTH_SESSION_KEY] == str(owner_a.pk)


def test_every_dashboard_page_has_a_sign_out_form(owner_a, client_for):
    # given / when
    response = client_for(owner_a).get("/app/")
    # then
    assert '<form method="post" action="/app/logout/">' in response.content.decode()


def test_password_reset_sends_one_email_whose_link_sets_a_new_password(owner_a, client, settings):
    # given
    settings.SITE_URL = "https://dash.example"
    # when: ask for the link
    response = client.post(reverse("dashboard:password_reset"), {"email": "owner@alpha.example"})
    # then
    assert response.status_code == 302
    assert response["Location"] == "/app/password-reset/sent/"
    assert client.get(response["Location"]).status_code == 200
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["owner@alpha.example"]
    assert email.subject == "Reset your Post-purchase password"
    assert email.alternatives == []
    match = re.search(r"https://dash\.example(/app/password-reset/[^/\s]+/[^/\s]+/)", email.body)
    assert match is not None

    # when: follow the link and choose a password
    link = client.get(match.group(1))
    assert link.status_code == 302
    form = client.get(link["Location"])
    assert form.status_code == 200
    assert form.context["validlink"] is True
    done = client.post(
        link["Location"],
        {"new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
    )
    # then
    assert done.status_code == 302
    assert done["Location"] == "/app/password-reset/complete/"
    assert client.get(done["Location"]).status_code == 200
    assert client.login(email="owner@alpha.example", password="a-new-long-passphrase")
    assert not client.login(email="owner@alpha.example", password=PASSWORD)


def test_password_reset_link_works_once(owner_a, client):
    # given: a password already reset through the link
    client.post(reverse("dashboard:password_reset"), {"email": "owner@alpha.example"})
    path = re.search(r"(/app/password-reset/[^/\s]+/[^/\s]+/)", mail.outbox[0].body).group(1)
    set_password_url = client.get(path)["Location"]
    client.post(
        set_password_url,
        {"new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
    )
    # when
    again = client.get(path)
    # then
    assert again.status_code == 200
    assert again.context["validlink"] is False
    assert "This link no longer works" in again.content.decode()


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(db, client):
    # given / when
    response = client.post(reverse("dashboard:password_reset"), {"email": "nobody@example.com"})
    # then
    assert response.status_code == 302
    assert response["Location"] == "/app/password-reset/sent/"
    assert mail.outbox == []
