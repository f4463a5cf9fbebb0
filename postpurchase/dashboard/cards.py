"""The home page's cards, filled in by the apps in their ``AppConfig.ready()``.

The dashboard shell is part of the core and imports no app; each app says what it shows on the
home page by registering a ``HomeCard``: live figures (polled as JSON by ``dashboard.js``) and,
optionally, a section of its own rendered below them. A pillar adds its card the same way, without
editing the shell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from postpurchase.tenancy.models import Merchant


@dataclass(frozen=True)
class Figure:
    """One live number on the home page. A ``warn`` figure is coloured while it is above zero
    (delayed shipments), and quiet at zero."""

    key: str
    label: str
    warn: bool = False


@dataclass(frozen=True)
class HomeCard:
    """What one app shows on the home page.

    ``counts(today=)`` answers every figure's value by its key, read in the current merchant's
    scope (``today`` is the merchant's own date); ``template`` is a section rendered below the
    figures with the page's context plus what ``context(merchant=, today=)`` returns.
    """

    name: str
    figures: tuple[Figure, ...] = ()
    counts: Callable[..., Mapping[str, int]] | None = None
    template: str = ""
    context: Callable[..., Mapping[str, Any]] | None = None
    position: int = 100  # lower comes first


class HomeCards:
    def __init__(self) -> None:
        self._cards: dict[str, HomeCard] = {}

    def register(self, card: HomeCard) -> None:
        """Add ``card``. Registering the same card again is a no-op; another card under a taken
        name, or a figure key another card already shows, is refused at start."""
        if self._cards.get(card.name) == card:
            return
        if card.name in self._cards:
            raise ValueError(f"A home card named {card.name!r} is already registered.")
        taken = {figure.key for other in self._cards.values() for figure in other.figures}
        for figure in card.figures:
            if figure.key in taken:
                raise ValueError(f"The home figure {figure.key!r} is already registered.")
        if card.figures and card.counts is None:
            raise ValueError(f"The home card {card.name!r} has figures but no counts.")
        self._cards[card.name] = card

    def unregister(self, name: str) -> None:
        self._cards.pop(name, None)

    def all(self) -> list[HomeCard]:
        return sorted(self._cards.values(), key=lambda card: (card.position, card.name))

    def counts(self, *, today: date) -> dict[str, int]:
        """Every card's figures, by key, in the cards' order."""
        values: dict[str, int] = {}
        for card in self.all():
            if card.counts is not None:
                values.update(card.counts(today=today))
        return values

    def context(self, *, merchant: Merchant, today: date) -> dict[str, Any]:
        """What the cards' sections read, merged; two cards naming the same key is a mistake
        that would show one card's data in the other, so it is refused."""
        merged: dict[str, Any] = {}
        for card in self.all():
            if card.context is None:
                continue
            for key, value in card.context(merchant=merchant, today=today).items():
                if key in merged:
                    raise ValueError(f"Two home cards give the page's {key!r}.")
                merged[key] = value
        return merged


home_cards = HomeCards()
