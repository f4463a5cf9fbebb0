"""The home page's card registry: apps add figures and sections without editing the shell."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from django.urls import reverse

from postpurchase.dashboard.cards import Figure, HomeCard, HomeCards, home_cards
from postpurchase.tenancy.permissions import Role


def returns_counts(*, today: date) -> dict[str, int]:
    return {"returns_open": 3 if today.year >= 2000 else 0}


RETURNS_CARD = HomeCard(
    name="returns",
    position=30,
    figures=(Figure("returns_open", "Open returns", warn=True),),
    counts=returns_counts,
)


@pytest.fixture
def returns_card():
    home_cards.register(RETURNS_CARD)
    yield RETURNS_CARD
    home_cards.unregister(RETURNS_CARD.name)


def test_the_apps_fill_the_home_page_from_their_ready():
    # given / when: the apps are loaded
    cards = home_cards.all()
    # then: the orders card, then tracking's (delayed shipments are its open incidents)
    assert [card.name for card in cards] == ["orders", "tracking"]
    assert [figure.key for figure in cards[0].figures] == [
        "customers",
        "orders",
        "shipments_in_transit",
    ]
    assert cards[0].template == "orders/_home_card.html"
    assert [(figure.key, figure.warn) for figure in cards[1].figures] == [
        ("shipments_delayed", True),
        ("orders_late_to_ship", True),
    ]
    assert cards[1].template == "tracking/_home_card.html"


def test_a_registered_card_adds_its_figure_to_the_live_counts(
    returns_card, merchant_a, member_of, client_for
):
    # given
    client = client_for(member_of(merchant_a, Role.VIEWER))
    # when
    response = client.get(reverse("dashboard:counts"))
    # then: after the orders and tracking cards' figures, in the cards' order
    counts = json.loads(response.content)
    assert list(counts.items()) == [
        ("customers", 0),
        ("orders", 0),
        ("shipments_in_transit", 0),
        ("shipments_delayed", 0),
        ("orders_late_to_ship", 0),
        ("returns_open", 3),
    ]


def test_a_registered_card_shows_its_figure_on_the_home_page(returns_card, owner_a, client_for):
    # given / when
    response = client_for(owner_a).get(reverse("dashboard:home"))
    # then
    html = response.content.decode()
    assert '<span class="stat__label">Open returns</span>' in html
    assert '<span class="stat__value" data-count="returns_open">3</span>' in html
    assert 'class="stat stat--warning" data-count-warn="returns_open"' in html
    assert 'class="stat stat--warning stat--quiet" data-count-warn="shipments_delayed"' in html


def test_registering_the_same_card_twice_is_a_no_op():
    # given
    cards = HomeCards()
    cards.register(RETURNS_CARD)
    # when
    cards.register(RETURNS_CARD)
    # then
    assert cards.all() == [RETURNS_CARD]


@pytest.mark.parametrize(
    ("card", "message"),
    [
        (
            HomeCard(name="returns", counts=returns_counts),
            "A home card named 'returns' is already registered.",
        ),
        (
            HomeCard(
                name="loyalty", figures=(Figure("returns_open", "Open"),), counts=returns_counts
            ),
            "The home figure 'returns_open' is already registered.",
        ),
        (
            HomeCard(name="loyalty", figures=(Figure("members", "Members"),)),
            "The home card 'loyalty' has figures but no counts.",
        ),
    ],
)
def test_a_card_that_would_hide_another_is_refused(card, message):
    # given
    cards = HomeCards()
    cards.register(RETURNS_CARD)
    # when / then
    with pytest.raises(ValueError, match=re.escape(message)):
        cards.register(card)
    assert cards.all() == [RETURNS_CARD]


def test_two_cards_giving_the_page_the_same_name_are_refused(merchant_a):
    # given
    cards = HomeCards()
    cards.register(HomeCard(name="a", template="a.html", context=lambda **_: {"latest": 1}))
    cards.register(HomeCard(name="b", template="b.html", context=lambda **_: {"latest": 2}))
    # when / then
    with pytest.raises(ValueError, match=re.escape("Two home cards give the page's 'latest'.")):
        cards.context(merchant=merchant_a, today=date(2026, 3, 1))
