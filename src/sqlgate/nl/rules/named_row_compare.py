"""A comparison with the row a value names: "people with a higher level than Ada", "a level
greater than Ada's level", "than that of Ada" compare each row's field with that row's:

    WHERE level > (SELECT MAX(level) FROM people WHERE name = 'Ada')

(the maximum for "more than", the minimum for "less than": above every row so named). Read after
the roles (:func:`compared_with_a_named_row`), when a comparison was left without its number,
the field compared is a number right before it and a value of a field of the same model follows
it; "than Ada's age" names the same field again."""

from __future__ import annotations

from sqlglot import exp

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Filter, Item, Reading
from sqlgate.nl.rules.sql_terms import column, ident, literal
from sqlgate.nl.vocabulary import _words

#: Words between "than" and the value ("than *that of* Ada", "than *the* level of Ada").
_GAP = _words("that those of the")


def compared_with_a_named_row(facts: ModelFacts, r: Reading, items: list[Item]) -> None:
    """Add the comparison of the pattern above to ``r`` (nothing when there is none)."""
    for k, cmp in enumerate(items):
        if cmp.kind != "kw" or cmp.kw != "cmp" or cmp.arg[0] not in (">", "<", ">=", "<="):
            continue
        field = items[k - 1] if k else None
        chosen = field.chosen if field is not None and field.kind == "entry" else None
        if field is None or chosen is None or chosen.kind != "field":
            continue
        info = facts.lexicon.field(chosen.model, str(chosen.name))
        if (
            info.kind != "number"
            or info.key
            or any(f.words.startswith(cmp.text) for f in r.filters)
        ):
            continue  # "older than 30": read already
        j = k + 1
        while j < len(items) and items[j].kind == "word" and items[j].text.lower() in _GAP:
            j += 1
        value = items[j] if j < len(items) else None
        named = value.chosen if value is not None and value.kind == "entry" else None
        if value is None or named is None or named.kind != "value":
            continue
        if named.model.lower() != chosen.model.lower():
            continue
        kept = [g for g in r.filters if g.kind == "values" and g.words == value.text]
        if len(kept) != 1 or len(kept[0].values) != 1 or kept[0].negated:
            continue
        again = [i for i in items[j + 1 : j + 3] if i.chosen == chosen or i.text.lower() == "s"]
        said = [field, cmp, *items[k + 1 : j + 1], *again]
        figure = {">": exp.Max, ">=": exp.Max, "<": exp.Min, "<=": exp.Min}[str(cmp.arg[0])]
        picked = exp.EQ(
            this=column(named.model, str(named.name)), expression=literal(kept[0].values[0])
        )
        query = (
            exp.select(figure(this=column(chosen.model, str(chosen.name))))
            .from_(exp.Table(this=ident(chosen.model)))
            .where(picked)
        )
        f = Filter("compare", chosen.model, chosen.name, op=str(cmp.arg[0]), overall="row_named")
        f.figure = query
        f.words = " ".join(i.text for i in said)
        r.filters[:] = [g for g in r.filters if g is not kept[0]]
        r.filters.append(f)
        for item in said:
            item.role = "filter"
            if item in r.fields:
                r.fields.remove(item)
        return


#: Words of a comparison in time or order that a value cannot end ("after Ada", "before Bo").
_ORDER_WORDS = _words("after before since until earlier later than")


def period_of_a_row(items: list[Item]) -> str | None:
    """The words of "after <a value>" ("joined after Ada": after the date of Ada's row), which
    no filter reads: the value alone would keep Ada's row instead; else None."""
    for k, item in enumerate(items[:-1]):
        nxt = items[k + 1]
        if item.kind != "word" or item.text.lower() not in _ORDER_WORDS:
            continue
        if nxt.kind == "entry" and nxt.chosen is not None and nxt.chosen.kind == "value":
            return f"{item.text} {nxt.text}"
    return None
