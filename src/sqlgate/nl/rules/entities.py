"""Which rows a question groups or lists, when it names them indirectly.

* A field that points to another model stands for that model's rows: in "brewers with at least
  2 beers", where "brewers" names the ``brewer`` column of ``beers`` (a reference to
  ``brewers``), the groups are brewers, not beers.
* "Its name", "their ids", "list name and id" ask for the label and the key of the rows the
  query groups or lists, whatever model the bare word "name" or "id" matched first.
"""

from __future__ import annotations

from sqlgate.nl.joins import plan_joins
from sqlgate.nl.lexicon import Entry
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.kind_values import kind_value_model
from sqlgate.nl.rules.parts import Dimension, Filter, Item, Measure, Reading, next_significant
from sqlgate.nl.text import identifier_words, stem
from sqlgate.nl.vocabulary import _words

#: Bare words that ask for what names a row to a person: its label column.
NAME_WORDS = _words("name names")
#: Bare words that ask for a row's key.
ID_WORDS = _words("id ids")
#: Words that refer back to the rows listed ("each customer and their orders").
BACK_REFERENCES = _words("they their them his her its")


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


def counted_rows(facts: ModelFacts, item: Item | None) -> str | None:
    """The model whose rows "more than 3 <item>" counts: the model ``item`` names, or the model
    whose label column it names ("builders with more than 3 classes", "classes" the label of
    ``titles`` or a column pointing to it): each title is one row of that model."""
    if item is None or item.kind != "entry" or item.chosen is None:
        return None
    chosen = item.chosen
    if chosen.kind == "model":
        return str(chosen.model)
    if chosen.kind != "field" or chosen.name is None:
        return None
    name = str(chosen.name).lower()
    target = referenced_model(facts, chosen.model, name)
    for model in (target, chosen.model):
        m = facts.index.get_model(model) if model else None
        if m is None or len(m.label_columns) != 1:
            continue
        label = m.label_columns[0].lower()
        if model == chosen.model and label == name:
            return str(m.name)
        if model == target and any(
            join.right.lower() == model.lower()
            and [c.lower() for c in join.right_columns] == [label]
            for join in facts.index.joins.get(chosen.model.lower(), ())
            if [c.lower() for c in join.left_columns] == [name]
        ):
            return str(m.name)
    return None


def rows_named(
    facts: ModelFacts, items: list[Item], others: list[str | None]
) -> tuple[str | None, list[Item]]:
    """The model of the item among ``items`` whose field is the one its model is named after
    ("the names of the builders with 3 classes", "builders" naming the ``builder`` column of
    ``ship_builders``, a plural word): it stands for that model's rows, when they are not the rows
    counted nor a subject named already (``others``). That item is pointed at its model and
    put first."""
    known = {str(m).lower() for m in others if m}
    for item in items:
        chosen = item.chosen
        if chosen is None or chosen.kind != "field" or chosen.name is None:
            continue
        if chosen.model.lower() in known:
            continue
        said = item.text.lower()
        column = str(chosen.name).lower()
        if named_after(chosen.model, column) and stem(said) == stem(column) and said != column:
            item.chosen = Entry("model", chosen.model, via="name")  # the plural of the column
            return chosen.model, [item, *(i for i in items if i is not item)]
    return None, items


def names_rows(facts: ModelFacts, item: Item) -> bool:
    """Whether the field of ``item`` names its model's rows: its own key or its label."""
    chosen = item.chosen
    model = facts.index.get_model(chosen.model) if chosen else None
    if chosen is None or model is None:
        return False
    names = {n.lower() for n in [*model.primary_key, *model.label_columns]}
    return str(chosen.name).lower() in names


def named_after(model: str, column: str) -> bool:
    """Whether ``column`` is the one word its model is named after (``builder`` of
    ``ship_builders``): the column most often holds a short name of each row."""
    head = identifier_words(model)[-1:]
    words = identifier_words(column)
    return len(head) == len(words) == 1 and stem(words[0]) == stem(head[0])


def entity_of(facts: ModelFacts, item: Item, counted: str | None) -> str | None:
    """The model whose rows the field ``item`` stands for: the model its column points to,
    when that is not the model ``counted`` ("brewers with 2 beers": brewers)."""
    chosen = item.chosen
    if chosen is None or chosen.kind != "field" or chosen.name is None:
        return None
    target = referenced_model(facts, chosen.model, str(chosen.name))
    if target is None or (counted is not None and target.lower() == counted.lower()):
        return None
    return target


_BEFORE_OWNER = frozenset(["of", "for", "the", "a", "an", "all", "every", "each"])


def ids_asked(facts: ModelFacts, items: list[Item], root: str) -> list[tuple[str, str]]:
    """ "the ids of the members who ...": the key of the rows listed, when it is one column
    (the bare word "ids" maps to no field by itself); nothing when already asked or when the
    ids are of other rows."""
    model = facts.index.get_model(root)
    if model is None or len(model.primary_key) != 1:
        return []
    for k, item in enumerate(items):
        if item.kind != "word" or item.text.lower() not in ("id", "ids"):
            continue
        after = k + 1  # past the rest of a list of fields ("the ids and names of ...")
        while after < len(items) and _in_list(items[after]):
            after += 1
        if after >= len(items) or items[after].text.lower() not in ("of", "for"):
            continue
        rest = [i for i in items[after:] if i.text.lower() not in _BEFORE_OWNER]
        owner = rest[0].chosen if rest and rest[0].kind == "entry" else None
        if owner is not None and owner.kind == "model" and owner.model.lower() == root.lower():
            return [(model.name, model.primary_key[0])]
    return []


def _in_list(item: Item) -> bool:
    """An "and", a comma, a field or a bare "name": the rest of a list of fields asked."""
    text = item.text.lower()
    if text in ("and", ",") or text in NAME_WORDS:
        return True
    return item.kind == "entry" and all(e.kind == "field" for e in item.entries)


def absent_entity(facts: ModelFacts, r: Reading, filters: list[Filter]) -> str | None:
    """ "the names of the nations with no brewers", "nations" naming the column of brewers that
    points to nations: the rows asked are nations, not brewers. The model the asked word stands
    for (now the first subject), or None."""
    absent = {f.model.lower() for f in filters if f.kind == "absent" and f.model}
    for item in r.fields:
        chosen = item.chosen
        if chosen is None or item.role is not None or chosen.model.lower() not in absent:
            continue
        target = entity_of(facts, item, None)
        if target is not None and target.lower() not in absent:
            item.chosen = Entry("model", target, via="name")
            item.role = "subject"
            r.fields.remove(item)
            r.subjects.insert(0, item)
            return target
    return None


def own_columns(
    facts: ModelFacts, model: str, items: list[Item], *, candidates: bool = False
) -> list[Item]:
    """Point the bare "name" and "id" words asked (no role yet) at ``model``'s label and key
    (with ``candidates``, only when the word could mean that column already); the items
    changed."""
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
        known = {(e.model.lower(), str(e.name).lower()) for e in item.entries}
        if candidates and (m.name.lower(), column.lower()) not in known:
            continue
        item.chosen = Entry("field", m.name, column, via="name")
        changed.append(item)
    return changed


def entity_dimensions(facts: ModelFacts, dims: list[Dimension], measures: list[Measure]) -> None:
    """ "for each region", "region" naming the column of nations that points to regions: the
    groups are regions, shown by their key and label."""
    measured = {m.model.lower() for m in measures}
    for k, d in enumerate(dims):
        if d.kind != "field" or d.model is None or d.name is None:
            continue
        entity = referenced_model(facts, d.model, d.name)
        if entity is None and named_after(d.model, d.name) and d.model.lower() not in measured:
            # "each builder", the builder column of ship_builders: each of its rows, with it
            if not any(e.kind == "model" and e.model == d.model for e in dims):
                dims.insert(k, Dimension("model", d.model, words=d.words))
            continue
        if entity is not None and entity.lower() not in measured:
            dims[k] = Dimension("model", entity, words=d.words)


def group_fields(facts: ModelFacts, dims: list[Dimension], fields: list[Item]) -> None:
    """ "the title and year of each album and the number of tracks": the other fields asked
    of the one model grouped by are shown with each group (its key keeps the groups)."""
    models = [d.model for d in dims if d.kind == "model" and d.model]
    if len(models) != 1 or len(dims) != 1:
        return
    model = facts.index.get_model(models[0])
    if model is None or not model.primary_key:
        return
    shown = {c.lower() for c in [*model.primary_key, *model.label_columns]}
    for item in fields:
        chosen = item.chosen
        if chosen is None or chosen.kind != "field" or item.role not in (None, "context"):
            continue
        if chosen.model.lower() == model.name.lower() and str(chosen.name).lower() not in shown:
            dims.append(Dimension("field", model.name, chosen.name, words=item.text))
            item.role = "dimension"


def distinct_dimensions(facts: ModelFacts, dims: list[Dimension]) -> list[Dimension]:
    """``dims`` without a field that another dimension already shows: the same field twice,
    or the key or label of a model grouped by."""
    shown: set[tuple[str, str]] = set()
    for d in dims:
        model = facts.index.get_model(str(d.model)) if d.kind == "model" else None
        if model is not None:
            shown |= {(model.name.lower(), c.lower()) for c in model.primary_key}
            shown |= {(model.name.lower(), c.lower()) for c in model.label_columns}
    out: list[Dimension] = []
    for d in dims:
        if d.kind == "model" and any(o.kind == "model" and o.model == d.model for o in out):
            continue  # "each yard ... of each yard": one grouping
        if d.kind == "field" and d.model and d.name:
            key = (d.model.lower(), d.name.lower())
            if key in shown:
                continue
            shown.add(key)
        out.append(d)
    return out


def per_different(items: list[Item], fields: list[Item], dims: list[Dimension]) -> None:
    """ "the maximum strength for all the different years": a figure per value of the
    field after "for ... different"."""
    for k, item in enumerate(items):
        if item.kw != "distinct" or dims:
            continue
        lead = [i.text.lower() for i in items[max(0, k - 3) : k] if i.kind == "word"]
        field = next_significant(items, k)
        if "for" not in lead or field is None or field not in fields or field.role is not None:
            continue
        chosen = field.chosen
        if chosen is not None and chosen.kind == "field":
            dims.append(Dimension("field", chosen.model, chosen.name, words=field.text))
            field.role = "dimension"


def total_having(facts: ModelFacts, r: Reading, subject: str | None, filters: list[Filter]) -> None:
    """ "regions that had more than 10 people injured in total": a comparison of a field of
    rows each subject row has many of, with "total" after it, is the sum per subject row."""
    if r.pending_agg is None or r.pending_agg[0] != "sum" or r.measures or subject is None:
        return
    compares = [f for f in filters if f.kind == "compare" and f.name and not f.overall]
    if len(compares) != 1 or compares[0].model is None:
        return
    f = compares[0]
    assert f.model is not None
    if f.model.lower() in {m.lower() for m in facts.to_one_models(subject)}:
        return  # one value per subject row: an ordinary comparison
    if plan_joins(facts.index, subject, [f.model]) is None:
        return
    f.kind, f.measure = "having", Measure("sum", f.model, f.name, words=r.pending_agg[1].text)
    r.pending_agg[1].role = "filter"
    r.pending_agg = None


def rows_of_each(
    facts: ModelFacts, r: Reading, dims: list[Dimension], items: list[Item]
) -> tuple[str, list[tuple[str, str]]] | None:
    """ "the name and grade of each student", "the date of each order and the name of the
    customer who placed it": a listing of each row of the one model grouped by, with the fields
    asked (of it or of related models), not a grouping. Rows of a model each listed row has many of
    ("the label of their beers") only with a word that refers back to the listed rows. The
    model listed and the key and label of each other model the question names, or None.
    "Each product name and its price": a field and the fields of the same rows."""
    if len(dims) != 1 or dims[0].kind not in ("model", "field") or not dims[0].model:
        return None
    model, field = str(dims[0].model), dims[0].name
    asked = [i for i in r.fields if i.chosen is not None and i.role in (None, "context")]
    if not asked:
        return None
    if field is not None:
        same = all(i.chosen and i.chosen.model.lower() == model.lower() for i in asked)
        referred = any(i.kind == "word" and i.text.lower() in BACK_REFERENCES for i in items)
        return (model, [(model, field)]) if same and referred else None
    to_one = {m.lower() for m in facts.to_one_models(model)}
    named = [i.chosen.model.lower() for i in [*asked, *r.subjects] if i.chosen is not None]
    referred = any(i.kind == "word" and i.text.lower() in BACK_REFERENCES for i in items)
    if not referred and any(m not in to_one for m in named):
        return None  # "the strength of each brewer": which of its many beers?
    for far in {m for m in named if m not in to_one}:
        path = plan_joins(facts.index, model, [far])
        if path is None or len(path.steps) > 2:
            return None  # "the customers they support" is near; tracks they sold are not
    for i in asked:
        chosen = i.chosen
        many = chosen is not None and chosen.model.lower() not in to_one
        if many and chosen and facts.lexicon.field(chosen.model, str(chosen.name)).kind == "number":
            return None  # "the total of their invoices": a sum, perhaps, not each one
    more: list[tuple[str, str]] = []
    between: set[str] = set()  # "the label of the beers they tasted": a way there
    for i in asked:
        path = plan_joins(facts.index, model, [i.chosen.model]) if i.chosen else None
        between |= {m.lower() for m in path.models} if path is not None else set()
    for item in r.subjects:
        chosen = item.chosen
        if chosen is None or item.role != "subject" or chosen.model.lower() == model.lower():
            continue
        other = facts.index.get_model(chosen.model)
        if other is None or other.name.lower() in between:
            continue  # "the name of the customer": its field says enough
        shown = [
            *other.primary_key,
            *[c for c in other.label_columns if c not in other.primary_key],
        ]
        more += [(other.name, c) for c in shown]
        item.role = "context"
    return model, more


def beyond_absent(
    facts: ModelFacts, root: str, filters: list[Filter], r: Reading
) -> list[tuple[str, str]]:
    """ "judges who did not do any tasting of beers", "customers who did not place any order of
    products in category Books": the models reached from the root only through the model of
    the one "without" filter, and the filters on them, are read inside that filter (not when
    a field of them is asked: "beers used by judges of the region north, and the region").
    The fields read inside that only named a value's column ("in category Books"): not listed."""
    absent = [f for f in filters if f.kind == "absent" and f.model]
    if len(absent) != 1:
        return []
    f = absent[0]
    assert f.model is not None

    def beyond(model: str) -> bool:
        if model.lower() in (root.lower(), str(f.model).lower()):
            return False
        path = plan_joins(facts.index, root, [model])
        return path is not None and str(f.model).lower() in {m.lower() for m in path.models}

    valued = {(str(g.model).lower(), str(g.name).lower()) for g in filters if g.kind == "values"}
    asked = [
        i.chosen.model
        for i in r.fields
        if i.chosen
        and i.role in (None, "context")
        and (i.chosen.model.lower(), str(i.chosen.name).lower()) not in valued
    ]  # not "category" of "in category Books": it names the value's column
    if any(m.lower() == str(f.model).lower() or beyond(m) for m in asked):
        return []
    inside = [g.model for g in filters if g is not f and g.model and beyond(g.model)]
    for item in r.subjects:
        chosen = item.chosen
        if chosen is not None and item.role == "subject" and beyond(chosen.model):
            inside.append(chosen.model)
            item.role = "filter"
    if inside and not any(g.kind in ("having", "absent") for g in filters if g.model in inside):
        f.inside = tuple(dict.fromkeys(str(m) for m in inside))
    names = [i.chosen for i in r.fields if i.chosen and i.role in (None, "context")]
    return [(c.model, str(c.name)) for c in names if c.model in (f.model, *f.inside)]


def ranked_subject(r: Reading, measures: list[Measure], items: list[Item]) -> Dimension | None:
    """The model ranked: the subject right before "with" ("the artist of the *album* with the
    most tracks"), else the first subject not counted."""
    followed = [
        s
        for s in r.subjects
        if any(i.first == s.last + 1 and i.text.lower() == "with" for i in items)
    ]
    for item in [*followed, *r.subjects]:
        chosen = item.chosen
        if chosen is None or item.role != "subject":
            continue
        if any(m.model.lower() == chosen.model.lower() for m in measures):
            continue  # "the bakery with the highest average wage of bakers": not per baker
        if item.text.lower().endswith("ed") and any(
            f.chosen is not None
            and f.chosen.model.lower() == chosen.model.lower()
            and f.role in (None, "context")
            and f.first < item.first
            for f in r.fields
        ):
            continue  # "which customer has *ordered* from the most bakeries": per customer
        item.role = "dimension"
        return Dimension("model", chosen.model, words=item.text)
    return None


def first_subject(r: Reading, items: list[Item]) -> str | None:
    subject = r.subjects[0].chosen.model if r.subjects and r.subjects[0].chosen else None
    if subject is None:
        named = [
            i.chosen.model
            for i in items
            if i.kind == "entry" and i.chosen and i.chosen.kind in ("model", "field")
        ]
        subject = named[0] if named else kind_value_model(r)  # "list all withdrawals"
    return subject
