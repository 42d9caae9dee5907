"""Which rows a question groups or lists, when it names them indirectly.

* A field that points to another model stands for that model's rows: in "airlines with at least
  10 flights", where "airlines" names the ``airline`` column of ``flights`` (a reference to
  ``airlines``), the groups are airlines, not flights.
* "Its name", "their ids", "list name and id" ask for the label and the key of the rows the
  query groups or lists, whatever model the bare word "name" or "id" matched first.
"""

from __future__ import annotations

from sqlgate.nl.lexicon import Entry
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Item
from sqlgate.nl.vocabulary import _words

#: Bare words that ask for what names a row to a person: its label column.
NAME_WORDS = _words("name names")
#: Bare words that ask for a row's key.
ID_WORDS = _words("id ids")


def referenced_model(facts: ModelFacts, model: str, field: str) -> str | None:
    """The model that ``model.field`` points to by a relationship of one column, if any."""
    for join in facts.index.joins.get(model.lower(), ()):
        if (
            join.to_one
            and len(join.left_columns) == 1
            and join.left_columns[0].lower() == field.lower()
            and join.right.lower() != model.lower()
        ):
            return join.right
    return None


def entity_of(facts: ModelFacts, item: Item, counted: str | None) -> str | None:
    """The model whose rows the field ``item`` stands for: the model its column points to,
    when that is not the model ``counted`` ("airlines with 10 flights": airlines)."""
    chosen = item.chosen
    if chosen is None or chosen.kind != "field" or chosen.name is None:
        return None
    target = referenced_model(facts, chosen.model, str(chosen.name))
    if target is None or (counted is not None and target.lower() == counted.lower()):
        return None
    return target


def own_columns(facts: ModelFacts, model: str, items: list[Item]) -> list[Item]:
    """Point the bare "name" and "id" words asked (no role yet) at ``model``'s label and key;
    the items changed."""
    m = facts.index.get_model(model)
    if m is None:
        return []
    changed = []
    for item in items:
        chosen = item.chosen
        if item.kind != "entry" or chosen is None or chosen.kind != "field":
            continue
        if item.role not in (None, "context") or chosen.model.lower() == m.name.lower():
            continue
        word = item.text.lower()
        if word in NAME_WORDS and m.label_columns:
            column = m.label_columns[0]
        elif word in ID_WORDS and len(m.primary_key) == 1:
            column = m.primary_key[0]
        else:
            continue
        item.chosen = Entry("field", m.name, column, via="name")
        changed.append(item)
    return changed
