"""Parts of values: "a city containing the substring 'West'" is ``LIKE '%West%'`` on the text
field the question names last (or next)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlgate.nl.rules.cues import text_field
from sqlgate.nl.rules.parts import Filter, Item

if TYPE_CHECKING:
    from sqlgate.nl.rules.reader_state import ReaderState


def read_like(reader: ReaderState, item: Item, pos: int) -> None:
    """The filter of the quoted ``item`` after a cue of a part ("containing"): the text field
    of the question's own model named before it, else any before it, else the next one."""
    before = [i for i in reversed(reader.items[:pos]) if text_field(reader.facts, i)]
    after = [i for i in reader.items[pos + 1 :] if text_field(reader.facts, i)]
    base = reader._base_model()
    own = [i for i in before if i.chosen is not None and i.chosen.model == base]
    field = next(iter(own or before or after), None)
    if field is None or field.chosen is None:
        return
    reader.r.filters.append(
        Filter("like", field.chosen.model, field.chosen.name, values=[item.text], words=item.text)
    )
    item.role = field.role = "filter"
    item.kind = "like"
    if field in reader.r.fields:
        reader.r.fields.remove(field)
