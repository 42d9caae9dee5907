"""Checks on what one phrase of a question may mean, from the phrases around it: a value
written exactly as stored, a state said right before its model's name, the model of values
named on their own, and what the next phrase may mean."""

from __future__ import annotations

from sqlgate.nl.lexicon import Entry
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Item


def state_of_next(facts: ModelFacts, item: Item, items: list[Item], pos: int) -> bool:
    """A past participle naming a column of numbers or text right before its model's name."""
    fields = [e for e in item.entries if e.kind == "field"]
    if item.last > item.first or not item.text.lower().endswith("ed") or len(fields) != 1:
        return False
    if facts.lexicon.field(fields[0].model, str(fields[0].name)).kind == "boolean":
        return False
    return any(e.kind == "model" and e.model == fields[0].model for e in next_entries(items, pos))


def next_entries(items: list[Item], pos: int) -> list[Entry]:
    """What the phrase right after ``items[pos]`` may mean (none when it is no phrase)."""
    nxt = items[pos + 1] if pos + 1 < len(items) else None
    return nxt.entries if nxt is not None and nxt.kind == "entry" else []


def of_next_model(values: list[Entry], items: list[Item], pos: int) -> list[Entry]:
    """ "the Oncology ward": of the values a word may be, those of the model named right
    after it (a ward's name, not a doctor's specialty); all of them when none is."""
    named = {e.model for e in next_entries(items, pos) if e.kind == "model"}
    return [e for e in values if e.model in named] or values


def value_as_written(item: Item, schema: list[Entry]) -> bool:
    """ "the Sales department" beside a ``sal`` column: a value written exactly as stored
    outweighs names only shortened to the phrase's stem."""
    return (
        bool(schema)
        and all(e.kind == "field" and e.via == "short" for e in schema)
        and any(e.kind == "value" and e.exact_case == item.text for e in item.entries)
    )


def valued_owner(items: list[Item], pos: int) -> str | None:
    """ "the names of the goalkeepers": the one model of the values a phrase names on its own,
    with no model named after it ("of the Boston *doctors*" is of doctors)."""
    item = items[pos]
    if item.kind != "entry" or not item.entries:
        return None
    models = {e.model.lower() for e in item.entries if e.kind == "value"}
    if len(models) != 1 or len(models) != len({e.model.lower() for e in item.entries}):
        return None
    if any(e.kind == "model" for e in next_entries(items, pos)):
        return None
    return models.pop()
