"""Small cues in a question's wording that the role reader looks at: a modifier before a name,
"by" after a participle, words asking for part of a value, money-named fields."""

from __future__ import annotations

from sqlgate.nl.rules.parts import Item
from sqlgate.nl.vocabulary import _words


def modifier(item: Item, nxt: Item | None) -> bool:
    """A singular model name right before another model or field ("car models"): a modifier."""
    return (
        nxt is not None
        and nxt.first == item.last + 1
        and nxt.kind == "entry"
        and nxt.chosen is not None
        and nxt.chosen.kind in ("model", "field")
        and not item.text.lower().endswith("s")
    )


def passive_by(items: list[Item], pos: int) -> bool:
    """ "by" right after a past participle ("used by", "written by", "owned by")."""
    if items[pos].text.lower() != "by" or pos == 0:
        return False
    before = items[pos - 1].text.lower().split()[-1] if items[pos - 1].text else ""
    return before.endswith(("ed", "en")) or before in _IRREGULAR_PARTICIPLES


_IRREGULAR_PARTICIPLES = _words(
    "made done held led paid sold bought built taught won lost sung run hit set kept sent spent "
    "told found brought thought caught fought"
)


#: Words before a quoted text that ask for a part of a value, not the whole value.
LIKE_CUES = _words("substring contain contains containing include includes including letter word")


def like_cue(items: list[Item], pos: int) -> bool:
    return any(i.text.lower() in LIKE_CUES for i in items[max(0, pos - 3) : pos])


MONEY = _words("amount total price cost revenue sales value paid spent charge fee")
