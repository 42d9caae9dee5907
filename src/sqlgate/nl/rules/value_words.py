"""A proper noun of the question that the data holds under another name: "United States" where
a column stores ``USA``, "UK" where it stores ``United Kingdom``.

WordNet's synonyms of the noun (its other names, abbreviations among them) are looked up among
the sampled values; only what the data shows links: the values of one column, never a guess
between two columns that both hold one of the names, unless only one holds its initials
("USA" in a column of countries, "America" in a column of continents).
"""

from __future__ import annotations

from sqlgate.nl import wordnet
from sqlgate.nl.lexicon import Entry, Lexicon
from sqlgate.nl.text import Token, phrase_key

#: Words initials leave out ("United States of America": USA).
_LITTLE = frozenset({"of", "the", "and", "for"})


def other_name_values(lexicon: Lexicon, window: list[Token]) -> list[Entry]:
    """The sampled values that are another name of the proper noun ``window`` spells (every
    word capitalised), when they are all of one column; marked ``via="alias"``."""
    if not window or any(t.kind != "word" or not t.text[:1].isupper() for t in window):
        return []
    if not wordnet.enabled():
        return []
    said = " ".join(t.norm for t in window)
    names = [other for other, how in wordnet.related(said, ("n",)) if how == "synonym"]
    found: dict[tuple[str, str | None, str | None], Entry] = {}
    for other in names:
        for entry in lexicon.phrases.get(phrase_key(other), ()):
            if entry.kind == "value" and (entry.exact_case or "").lower() == other:
                key = (entry.model, entry.name, entry.value)
                found.setdefault(key, Entry("value", *key, via="alias", exact_case=entry.value))
    if len({(e.model, e.name) for e in found.values()}) > 1:
        # "United States": the initials (USA) of one column over another name (America) of
        # another column
        initials = {
            "".join(w[0] for w in n.split() if w not in _LITTLE) for n in [said, *names] if " " in n
        }
        found = {k: e for k, e in found.items() if str(e.value).lower() in initials}
    if len({(e.model, e.name) for e in found.values()}) != 1:
        return []  # none, or two columns: no guess
    return list(found.values())
