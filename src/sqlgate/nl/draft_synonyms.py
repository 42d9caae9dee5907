"""Synonyms a draft semantic model guesses from the schema's own names.

Only what the name itself says, never a thesaurus: a table named with a generic suffix is also
what comes before it (``cars_data`` → "cars", ``customer_info`` → "customer"), and a column that
holds a count of something is also that something (``num_of_staff`` → "staff", "number of
staff"; ``Number_products`` → "products"; ``ticket_count`` → "tickets"). An editor of the draft
sees them in the YAML and can remove them or add better ones.
"""

from __future__ import annotations

from sqlgate.nl.text import identifier_words
from sqlgate.nl.vocabulary import _words

#: Last words of a table name that say how it is stored, not what it holds.
_TABLE_SUFFIXES = _words(
    "data info information details detail list lists record records table tbl entries master"
)
#: First words of a table name that say it is a table.
_TABLE_PREFIXES = _words("tbl tb t ref lkp lookup dim fact")
#: Words of a column name that say the column counts what the rest names.
_COUNT_PREFIXES = (("number", "of"), ("num", "of"), ("no", "of"), ("number",), ("num",), ("nbr",))
_COUNT_SUFFIXES = _words("count")


def table_synonyms(name: str, columns: tuple[str, ...] = ()) -> list[str]:
    """ "cars" for ``cars_data``, "payments" for ``tbl_payments``; nothing for a plain name, nor
    when a column of the table has that name (``model_list.model`` is a field, not the table)."""
    found = _table_synonyms(name)
    taken = {" ".join(identifier_words(c)) for c in columns}
    return [s for s in found if s not in taken and s.rstrip("s") not in taken]


def _table_synonyms(name: str) -> list[str]:
    words = identifier_words(name)
    found = []
    if len(words) > 1 and words[0] in _TABLE_PREFIXES:
        words = words[1:]
        found.append(" ".join(words))  # "template types" for Ref_Template_Types
    if len(words) > 1 and words[-1] in _TABLE_SUFFIXES:
        found.append(" ".join(words[:-1]))
    return found


def column_synonyms(name: str) -> list[str]:
    """ "staff" and "number of staff" for ``num_of_staff``; nothing for other names."""
    words = identifier_words(name)
    rest: list[str] = []
    for prefix in _COUNT_PREFIXES:
        if len(words) > len(prefix) and tuple(words[: len(prefix)]) == prefix:
            rest = words[len(prefix) :]
            break
    if not rest and len(words) > 1 and words[-1] in _COUNT_SUFFIXES:
        rest = words[:-1]
    if not rest or rest[-1] in ("id", "of"):
        return []
    thing = " ".join(rest)
    return [thing, f"number of {thing}"]
