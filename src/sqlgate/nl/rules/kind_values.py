"""Rows named by a value of their column of kinds: "list all *withdrawals*" are the
transactions whose ``txn_type`` is 'withdrawal', when nothing else names a model.

Only a column that says a kind (``type``, ``kind``, ``category``, ``status``, ``class``): a value
of a name column is a row of its own model that other rows may be of ("how many *lions*" on a
``species`` table counts animals, or one species), and declines as before."""

from __future__ import annotations

from sqlgate.nl.rules.parts import Reading
from sqlgate.nl.text import identifier_words

#: Words of a column that says which kind each row is.
KIND_WORDS = frozenset({"type", "kind", "category", "status", "class"})


def kind_value_model(r: Reading) -> str | None:
    """The one model whose columns of kinds all the question's values are of, else None."""
    values = [f for f in r.filters if f.kind == "values"]
    if not values or len(values) != len(r.filters) or any(f.negated for f in values):
        return None
    models = {str(f.model) for f in values}
    if len(models) != 1:
        return None
    if not all(KIND_WORDS & set(identifier_words(str(f.name))) for f in values):
        return None
    return models.pop()
