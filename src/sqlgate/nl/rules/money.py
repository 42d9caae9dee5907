"""Money words: "top 10 customers by revenue", "by spending" rank by the sum of the amount
field nearest to what is ranked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlgate.nl.joins import hops
from sqlgate.nl.rules.cues import MONEY
from sqlgate.nl.rules.parts import Item, Measure
from sqlgate.nl.text import identifier_words

if TYPE_CHECKING:
    from sqlgate.nl.rules.reader_state import ReaderState


def money_sum(self: ReaderState, item: Item) -> None:
    """ "top 10 customers by (total) revenue", "by spending": ranked by the sum of the
    amount field nearest to what is ranked (the field just named, else a model's amount)."""
    r, last = self.r, self.last_significant
    target: tuple[str, str] | None = None
    if last is not None and last.role == "dimension" and last.chosen is not None:
        chosen = last.chosen
        info = self.facts.lexicon.field(chosen.model, str(chosen.name)) if chosen.name else None
        if info is not None and info.kind == "number" and not info.key and r.dimensions:
            r.dimensions.pop()
            target = (chosen.model, str(chosen.name))
            last.role = "measure"
    base = self._base_model()
    if target is None and base is not None:
        near = sorted(hops(self.facts.index, base).items(), key=lambda kv: kv[1])
        for name, cost in near:
            target = _money_field(self, name) if cost <= 22 else None
            if target is not None:
                break  # the amount at most two relationships away
    if target is None:
        return
    m = Measure("sum", target[0], target[1], words=item.text)
    r.measures.append(m)
    if self.pending_group or self.pending_top or r.limit is not None:
        r.order = (r.order[0] if r.order and r.order[0] else "desc", "measure", m)
        r.by_measure = True
    self.pending_group = False
    item.role = "measure"
    item.kind, item.arg = "concept", "sales"


def _money_field(self: ReaderState, model: str) -> tuple[str, str] | None:
    m = self.facts.index.get_model(model)
    for column in m.columns if m else ():
        info = self.facts.lexicon.field(m.name, column.name) if m else None
        words = set(identifier_words(column.name))
        if info is not None and info.kind == "number" and not info.key and words & MONEY:
            return m.name if m else model, column.name
    return None
