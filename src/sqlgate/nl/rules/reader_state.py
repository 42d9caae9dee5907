"""What the role reader's helper modules (:mod:`.figures`, :mod:`.money`) see of the reader.

A protocol, so those modules take the reader of :mod:`.roles` without importing it (it imports
them)."""

from __future__ import annotations

from typing import Protocol

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Item, Reading

#: A comparison waiting for its number: (operator, concept, the field before it, its item).
PendingCompare = tuple[str, str | None, Item | None, Item]


class ReaderState(Protocol):
    """The reader's state as it walks the question's items."""

    facts: ModelFacts
    items: list[Item]
    r: Reading
    last_significant: Item | None
    pending_cmp: PendingCompare | None
    pending_neg: bool
    pending_group: bool
    pending_top: str | None

    def _base_model(self) -> str | None:
        """The model the question is about so far."""
