"""Step 1 of the rule-based translator: the question's words become items, and every phrase gets
one meaning.

Dates and time grains are found first (:mod:`sqlgate.nl.timeexpr`); then, longest phrase first,
question keywords (:mod:`sqlgate.nl.vocabulary`) and the model's vocabulary
(:mod:`sqlgate.nl.lexicon`). A phrase with several meanings is settled by the models the
question names and their join distance (:func:`settle`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlgate.nl import timeexpr
from sqlgate.nl.lexicon import MAX_PHRASE, Entry, Lexicon
from sqlgate.nl.name_words import ABBREVIATIONS, name_words, split_glued
from sqlgate.nl.rules.embedded_words import embedded_entries
from sqlgate.nl.rules.entities import named_after
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Item
from sqlgate.nl.rules.phrase_checks import (
    next_entries,
    of_next_model,
    state_of_next,
    value_as_written,
    valued_owner,
)
from sqlgate.nl.rules.related_words import kin_entries, related_entries
from sqlgate.nl.rules.role_joins import column_direction, direction_cue
from sqlgate.nl.rules.value_words import other_name_values
from sqlgate.nl.rules.verb_links import settle_verbs, verb_entries
from sqlgate.nl.spelling import initials, lemma
from sqlgate.nl.text import Token, identifier_words, phrase_key, stem
from sqlgate.nl.vocabulary import KEYWORDS, MAX_KEYWORD, STOPWORDS, _words

_MIN_LEMMA = 4
_VIA_RANK = {"name": 3, "qualified": 3, "value": 3, "boolean": 3, "synonym": 2, "short": 1}


def find_items(lexicon: Lexicon, tokens: list[Token], today: date) -> list[Item]:
    """The items of the question, in order: time expressions, keywords, model phrases, numbers
    and the words left over."""
    taken: dict[int, Item] = {}
    for hit in timeexpr.find_time(tokens, today):
        text = " ".join(t.text for t in tokens[hit.first : hit.last + 1])
        if hit.grain and _named_on(lexicon, tokens, hit.first, hit.last):
            continue  # "the monthly rent": a column so named, not rent per month
        if hit.grain:
            item = Item("grain", hit.first, hit.last, text, arg=hit.grain)
        else:
            item = Item("range", hit.first, hit.last, text, arg=hit.range)
        for i in range(hit.first, hit.last + 1):
            taken[i] = item
    items: list[Item] = []
    i = 0
    while i < len(tokens):
        if i in taken:
            item = taken[i]
            items.append(item)
            i = item.last + 1
            continue
        item = _match_at(lexicon, tokens, i, taken)
        items.append(item)
        i = item.last + 1
    settle_verbs(items, lexicon)
    return items


def _named_on(lexicon: Lexicon, tokens: list[Token], first: int, last: int) -> bool:
    """Whether a phrase of the model's starts at ``first`` and goes past ``last``."""
    stems = [t.stem for t in tokens[first : first + MAX_PHRASE]]
    return any(tuple(stems[:n]) in lexicon.phrases for n in range(last - first + 2, len(stems) + 1))


def _match_at(lexicon: Lexicon, tokens: list[Token], i: int, taken: dict[int, Item]) -> Item:
    token = tokens[i]
    if token.kind == "quoted":
        entries = lexicon.phrases.get(phrase_key(token.text), [])
        return Item("entry" if entries else "quoted", i, i, token.text, entries=list(entries))
    kw_len, kw = _keyword_at(tokens, i, taken)
    lex_len, entries = _phrase_at(lexicon, tokens, i, taken)
    if token.kind == "number" and not kw_len and not lex_len:
        return Item("number", i, i, token.text, arg=token.number)
    # "total" is a keyword before a number-valued phrase ("total sales"), else a field
    bare_total = (
        kw_len == lex_len == 1
        and kw == ("agg", "sum")
        and not _numeric_next(lexicon, tokens, i + 1, taken)
    )
    if kw_len and kw_len >= lex_len and not bare_total:
        text = " ".join(t.text for t in tokens[i : i + kw_len])
        return Item("kw", i, i + kw_len - 1, text, kw=kw[0], arg=kw[1])
    if lex_len:
        text = " ".join(t.text for t in tokens[i : i + lex_len])
        return Item("entry", i, i + lex_len - 1, text, entries=list(entries))
    return Item("word", i, i, token.text)


def _keyword_at(tokens: list[Token], i: int, taken: dict[int, Item]) -> tuple[int, tuple[str, Any]]:
    for n in range(min(MAX_KEYWORD, len(tokens) - i), 0, -1):
        if any(j in taken for j in range(i, i + n)):
            continue
        key = tuple(t.norm for t in tokens[i : i + n])
        if key in KEYWORDS:
            return n, KEYWORDS[key]
    return 0, ("", None)


def _phrase_at(
    lexicon: Lexicon, tokens: list[Token], i: int, taken: dict[int, Item]
) -> tuple[int, list[Entry]]:
    for n in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):
        if n == 1:
            joined = _joined_at(lexicon, tokens, i, taken)
            if joined[0]:
                return joined
        window = tokens[i : i + n]
        if any(j in taken for j in range(i, i + n)) or any(
            t.kind in ("quoted", "op") for t in window
        ):
            continue
        key = tuple(t.stem for t in window)
        entries = lexicon.phrases.get(key) or _other_form(lexicon, window)
        if not entries or (all(t.norm in STOPWORDS for t in window) and not _noun_at(tokens, i, n)):
            continue
        return n, entries
    return 0, []


def _noun_at(tokens: list[Token], i: int, n: int) -> bool:
    """ "the kind of the van", "loaves by kind": a common word used as a noun, after a
    determiner and before "of" or after a word that groups, names a field called so
    (``kind``)."""
    before = tokens[i - 1].norm if i else ""
    after = tokens[i + n].norm if i + n < len(tokens) else ""
    if before in ("what", "which"):  # "what make is it"
        return n == 1 and after in ("is", "was", "are", "were")
    if before in ("by", "per", "each", "every"):  # "loaves by kind": the groups of a field
        return n == 1 and after in ("and", "", "in", "for", "from", "with", "by", "of")
    return n == 1 and before in ("the", "a", "an", "its", "their") and after in ("of", "and", "")


def _other_form(lexicon: Lexicon, window: list[Token]) -> list[Entry]:
    """A phrase the model names in another form: with a word the name shortens ("destination
    airport" for ``DestAirport``), a one-word name in another inflection ("aged" for ``age``), a
    one-word name spelled out from its initials ("miles per gallon" for ``mpg``)."""
    if any(t.kind != "word" for t in window):
        return []
    short = tuple(
        lexicon.shortened(t.norm)
        or _spelled_out(t.norm)
        or lexicon.respelled(t.norm)
        or lexicon.variant(t.norm)
        or lexicon.derived(t.norm)
        or t.stem
        for t in window
    )
    if short != tuple(t.stem for t in window) and short in lexicon.phrases:
        return lexicon.phrases[short]  # "destination airport" for DestAirport
    if len(window) == 1:
        glued = split_glued(window[0].norm)
        if len(glued) > 1 and tuple(stem(w) for w in glued) in lexicon.phrases:
            return lexicon.phrases[tuple(stem(w) for w in glued)]  # "makeid" for MakeId
        if len(window[0].norm) < _MIN_LEMMA:
            return []  # "ids", "its": too short to tell
        other = stem(lemma(window[0].norm))
        entries = lexicon.phrases.get((other,), []) if other != window[0].stem else []
        # "stores" for shop; "taught" for a teacher table
        return (
            entries
            or related_entries(lexicon, window[0])
            or verb_entries(lexicon, window[0])
            or kin_entries(lexicon, window[0])  # "students" for a table of learners
            or other_name_values(lexicon, window)  # "USA" for a value United States
            or embedded_entries(lexicon, window[0])  # the embeddings extra: a similar name
        )
    spelled = initials([t.norm for t in window])
    found = lexicon.acronyms.get(spelled, []) if spelled else []
    return found or other_name_values(lexicon, window)  # "United States" for a value USA


def _spelled_out(word: str) -> str | None:
    """ "department" for a question's "dept" or "depts", as schema names shorten it."""
    if len(word) < 3 or word in STOPWORDS:
        return None
    full = ABBREVIATIONS.get(word) or ABBREVIATIONS.get(word[:-1] if word.endswith("s") else "")
    return stem(full[0]) if full and len(full) == 1 else None


def _joined_at(
    lexicon: Lexicon, tokens: list[Token], i: int, taken: dict[int, Item]
) -> tuple[int, list[Entry]]:
    """Two words written as one in the schema: "high schooler" for ``Highschooler``; and a
    person named by what they do, before a noun for a person: "high school students" for
    ``Highschooler``, "football players" for ``footballer``."""
    agent = _agent_at(lexicon, tokens, i, taken)
    if agent[0]:
        return agent
    pair = tokens[i : i + 2]
    if len(pair) < 2 or i + 1 in taken or any(t.kind != "word" for t in pair):
        return 0, []
    if any(t.norm in STOPWORDS for t in pair):
        return 0, []
    entries = lexicon.phrases.get((stem(pair[0].norm + pair[1].norm),))
    return (2, entries) if entries else (0, [])


def _agent_at(
    lexicon: Lexicon, tokens: list[Token], i: int, taken: dict[int, Item]
) -> tuple[int, list[Entry]]:
    for n in (3, 2):
        window = tokens[i : i + n]
        if len(window) < n or any(j in taken for j in range(i, i + n)):
            continue
        if any(t.kind != "word" or t.norm in STOPWORDS for t in window):
            continue
        if window[-1].norm not in _PERSON_NOUNS:
            continue
        entries = lexicon.phrases.get((stem("".join(t.norm for t in window[:-1]) + "er"),))
        if entries:
            return n, entries
    return 0, []


#: Nouns for a person, that an agent noun of the schema stands for with what the person does.
_PERSON_NOUNS = _words(
    "student students person people member members player players worker workers resident residents"
)


def _numeric_next(lexicon: Lexicon, tokens: list[Token], i: int, taken: dict[int, Item]) -> bool:
    n, entries = _phrase_at(lexicon, tokens, i, taken)
    if not n:
        return False
    for entry in entries:
        if entry.kind == "metric":
            return True
        if entry.kind == "field" and entry.name:
            info = lexicon.field(entry.model, entry.name)
            if info.kind == "number" and not info.key:
                return True
    return False


# --- one meaning per phrase ---------------------------------------------------------------------


def settle(facts: ModelFacts, items: list[Item], tokens: list[Token]) -> None:
    """Pick one meaning for every phrase, preferring the models the question names."""
    lowercase_question = not any(t.text[:1].isupper() for t in tokens[1:] if t.kind == "word")
    named: list[str] = []
    for item in items:
        if item.kind == "entry":
            schema = [e for e in item.entries if e.kind != "value"]
            if value_as_written(item, schema):
                item.entries = [e for e in item.entries if e.kind == "value"]
            elif schema:
                item.entries = schema
            if all(e.kind == "model" for e in item.entries) or all(
                e.kind == "metric" for e in item.entries
            ):
                named.append(item.entries[0].model)
    for pos, item in enumerate(items):
        if item.kind != "entry":
            continue
        if item.entries[0].kind == "value":
            accepted = [
                e
                for e in item.entries
                if _value_ok(e, item, items, pos, tokens, lowercase_question)
            ]
            if not accepted:
                item.kind = "word"
                continue
            item.entries = of_next_model(accepted, items, pos)
        if state_of_next(facts, item, items, pos):
            item.kind = "word"  # "the discontinued products": a state, not the column's values
            continue
        if _shared_prefix(facts, item, items, pos):
            # "ship classes" beside ship_builders, ship_names: one phrase, which classes
            nxt = items[pos + 1]
            nxt.first, nxt.text, item.kind = item.first, f"{item.text} {nxt.text}", "prefix"
            continue
        item.chosen = _choose(facts, item, items, pos, named)
        nxt = items[pos + 1] if pos + 1 < len(items) else None
        chosen = item.chosen
        if (
            chosen.kind == "field"
            and nxt is not None
            and nxt.text.lower() == "with"
            and item.text.lower() == str(chosen.name).lower()
            and named_after(chosen.model, str(chosen.name))
        ):
            item.chosen = Entry("model", chosen.model)  # "the builder with ...": one of its rows
    items[:] = [i for i in items if i.kind != "prefix"]
    _where_from(facts, items, tokens)


def _shared_prefix(facts: ModelFacts, item: Item, items: list[Item], pos: int) -> bool:
    """A single word naming a model, right before another model's or field's name, that begins
    the names of several models ("ship classes" where the models are ship_builders, ship_names
    and ships_data): it qualifies the next word, as the schema's names do."""
    nxt = items[pos + 1] if pos + 1 < len(items) else None
    if nxt is None or nxt.kind != "entry" or nxt.first != item.last + 1 or item.first != item.last:
        return False
    if not all(e.kind == "model" for e in item.entries):
        return False
    said = stem(item.text.lower())
    names = [identifier_words(m.name) for m in facts.index.model.models]
    sharing = [ws for ws in names if ws and stem(ws[0]) == said]
    return len(sharing) >= 2 and all(len(ws) > 1 for ws in sharing)  # none is the word alone


#: Words of a column that holds where someone or something is from.
_PLACE_WORDS = _words("hometown city country nation state town origin birthplace region")
#: Words of a column that holds where something is ("Where is the depot located?").
_SITE_WORDS = _words("location address city town place site")
_SITED = _words("located based situated headquartered")


def _where_from(facts: ModelFacts, items: list[Item], tokens: list[Token]) -> None:
    """ "Where is the youngest teacher from?": the question asks for the one column of the
    thing it names that says where it is from (a hometown, a city, a country)."""
    if not items or items[0].kind != "word" or items[0].text.lower() != "where":
        return
    last = [t.norm for t in tokens[-2:]]
    wanted = _PLACE_WORDS if "from" in last else _SITE_WORDS if set(last) & _SITED else None
    if wanted is None:
        return
    named = [i.chosen for i in items if i.chosen is not None]
    subject = next((e.model for e in named if e.kind == "model"), None) or next(
        (e.model for e in named if e.kind == "value"), None
    )  # "Where is the supplier Bolt Ltd from?", "Where is Bolt Ltd from?"
    model = facts.index.get_model(subject) if subject else None
    if model is None:
        return
    places = [c.name for c in model.columns if set(name_words(c.name)) & wanted]
    if len(places) == 1:
        entry = Entry("field", model.name, places[0], via="synonym")
        items[0].kind, items[0].entries, items[0].chosen = "entry", [entry], entry


def _value_ok(
    entry: Entry,
    item: Item,
    items: list[Item],
    pos: int,
    tokens: list[Token],
    lowercase_question: bool,
) -> bool:
    if entry.via == "sex":  # "female patients", "patients who are women"; no "male wards"
        return not any(
            e.kind == "model" and e.model != entry.model for e in next_entries(items, pos)
        )
    if entry.via in ("boolean", "lexicon", "alias") or item.last > item.first or lowercase_question:
        return True
    token = tokens[item.first]
    if token.kind == "quoted":
        return True
    stored = entry.exact_case or ""
    if token.text == stored or token.text in stored.split():
        return True
    if item.first and token.text[:1].isupper() and stored.islower() and token.norm == stored:
        return True  # "France" for a value stored in lower case: a proper noun all the same
    for other in items[max(0, pos - 2) : pos + 3]:
        if other is item or other.kind != "entry":
            continue
        for e in other.entries:
            if e.model == entry.model and (e.kind == "model" or e.name == entry.name):
                return True
    return False


def _choose(facts: ModelFacts, item: Item, items: list[Item], pos: int, named: list[str]) -> Entry:
    entries = _entities_over_keys(facts, _label_of_owner(facts, item, items, pos))
    before = next(
        (
            i
            for i in reversed(items[:pos])
            if i.kind != "prefix" and not (i.kind == "word" and i.text.lower() in ("the", "of"))
        ),
        None,
    )  # "how many classes", "the count of the classes"
    if before is not None and (before.kw == "count" or before.kind == "number"):
        entries = _originals(facts, entries)  # "how many classes": rows, not references to them
    if len(entries) == 1:
        return entries[0]
    nearby_fields = {
        (e.model.lower(), (e.name or "").lower())
        for other in items[max(0, pos - 2) : pos + 3]
        if other is not item and other.kind == "entry"
        for e in other.entries
        if e.kind == "field"
    }
    # "the name and tonnage": a field only one model has, next to it, names the model
    siblings = {
        other.entries[0].model.lower()
        for other in items[max(0, pos - 2) : pos + 3]
        if all(e.kind == "field" for e in entries)
        and other is not item
        and other.kind == "entry"
        and len(other.entries) == 1
        and other.entries[0].kind == "field"
    }
    named_lower = [n.lower() for n in named]
    entries = _with_direction(entries, _direction_before(items, pos))
    owner = _owner_after(items, pos)
    owners = [m.lower() for m in facts.to_one_models(owner)] if owner else []
    beside = _fields_beside(items, item)
    # "Michael Mitchell": two values side by side (a first and a last name) are of one model
    # that has both, not of two models that each have one
    pair = {
        e.model.lower()
        for other in items
        if other.kind == "entry" and (other.first == item.last + 1 or other.last + 1 == item.first)
        for e in other.entries
        if e.kind == "value" and e.name != item.entries[0].name
    }

    def score(entry: Entry) -> tuple[int, ...]:
        model = entry.model.lower()
        adjacent = int(
            entry.kind == "value" and (model, (entry.name or "").lower()) in nearby_fields
        )
        in_question = int(model in named_lower)
        distance = min((facts.distance(n, model) for n in named_lower), default=1000)
        via = _VIA_RANK.get(entry.via, 0)
        kind_rank = {"model": 3, "metric": 2, "field": 1, "value": 1}[entry.kind]
        # "the name of the visitor"; "the descriptions for depots": of their region
        owned = 0
        if entry.kind == "field" and model in owners:
            owned = 2 if model == owner else 1
        sibling = int(
            entry.kind == "field"
            and model in siblings
            and not facts.lexicon.field(entry.model, str(entry.name)).key
        )
        # "region codes and notes": of the model the other fields are of
        near = 1000
        if entry.kind == "field" and not facts.lexicon.field(entry.model, str(entry.name)).key:
            near = min((facts.distance(n, model) for n in beside), default=1000)
        paired = int(entry.kind == "value" and model in pair)
        return (owned, sibling, paired, adjacent, in_question, -distance, via, kind_rank, -near)

    return max(entries, key=score)


def _originals(facts: ModelFacts, entries: list[Entry]) -> list[Entry]:
    """ "classes" naming both class_list.class and ship_names.class, a reference to it: the
    column referred to, whose rows the word names."""
    fields = {(e.model.lower(), str(e.name).lower()) for e in entries if e.kind == "field"}

    def copy(e: Entry) -> bool:
        return e.kind == "field" and any(
            (j.right.lower(), j.right_columns[0].lower()) in fields
            for j in facts.index.joins.get(e.model.lower(), ())
            if j.to_one and [c.lower() for c in j.left_columns] == [str(e.name).lower()]
        )

    kept = [e for e in entries if not copy(e)]
    return kept or entries


def _entities_over_keys(facts: ModelFacts, entries: list[Entry]) -> list[Entry]:
    """ "depots in each region": a word naming both a model and another model's foreign
    key to it means the model (its rows, shown by their label), not the key's raw values."""
    models = {e.model.lower() for e in entries if e.kind == "model"}
    if not models:
        return entries
    kept = [
        e
        for e in entries
        if not (
            e.kind == "field"
            and e.name
            and (facts.referenced(e.model, e.name) or "").lower() in models
        )
    ]
    return kept or entries


def _with_direction(entries: list[Entry], cue: str | None) -> list[Entry]:
    """ "transfers into ML": a value found in a model's source and destination columns is the
    one of the direction the question gives (the others of that model are dropped)."""
    if cue is None:
        return entries
    ways: dict[str, set[str | None]] = {}
    for e in entries:
        if e.kind == "value":
            ways.setdefault(e.model.lower(), set()).add(column_direction(str(e.name)))
    kept = [
        e
        for e in entries
        if not (
            e.kind == "value"
            and {"from", "to"} <= ways.get(e.model.lower(), set())
            and column_direction(str(e.name)) != cue
        )
    ]
    return kept or entries


def _direction_before(items: list[Item], pos: int) -> str | None:
    """The direction a word right before the item gives ("from 'ML'", "departing from")."""
    for other in reversed(items[max(0, pos - 2) : pos]):
        cue = direction_cue(other.text.lower()) if other.kind in ("word", "kw") else None
        if cue is not None:
            return cue
    return None


def _label_of_owner(facts: ModelFacts, item: Item, items: list[Item], pos: int) -> list[Entry]:
    """ "the name of the owners": the label of the model named after "of", even when its
    column is not called "name" (``title``), rather than another model's name column; and
    "the id of the regions": its key (``region_id``), not another model's id."""
    word = item.text.lower()
    if word not in ("name", "names", "id", "ids"):
        return item.entries
    owner = _owner_after(items, pos)
    model = facts.index.get_model(owner) if owner else None
    if model is None or any(e.model.lower() == model.name.lower() for e in item.entries):
        return item.entries
    # "the ids of the regions": their key, when it is one column (``region_id``)
    names = model.label_columns if word.startswith("name") else model.primary_key
    if (len(names) != 1 and not word.startswith("name")) or not names:
        return item.entries
    return [*item.entries, Entry("field", model.name, names[0], via="short")]


def _fields_beside(items: list[Item], item: Item) -> list[str]:
    """The models the other fields the question names may be of."""
    out = []
    for other in items:
        if other is item or other.kind != "entry" or not other.entries:
            continue
        if all(e.kind == "field" for e in other.entries):
            out += [e.model.lower() for e in other.entries]
    return out


def _listed_with(item: Item) -> bool:
    """An "and", a comma or a field: the rest of a list of fields ("id, name and age")."""
    if item.kind == "kw" and item.kw == "conj" and item.text.lower() == "and":
        return True
    if item.kind == "word" and item.text in (",",):
        return True
    return item.kind == "entry" and all(e.kind == "field" for e in item.entries)


def _owner_after(items: list[Item], pos: int) -> str | None:
    """The model named right after "of" or "for" ("the name *of the visitor*"), lower-case;
    past the other fields of a list ("the id and names *of the countries*")."""
    start = pos + 1
    while start < min(len(items), pos + 7) and _listed_with(items[start]):
        start += 1
    rest = items[start : start + 4]
    if not rest or rest[0].text.lower() not in ("of", "for"):
        return None
    for item in rest[1:]:
        if item.kind == "word" and item.text.lower() in ("the", "a", "an", "each", "all", "every"):
            continue
        if item.kind == "kw" and item.kw in ("distinct", "sup"):
            continue  # "the name of the different owners", "of the oldest employee"
        models = [e.model.lower() for e in item.entries if e.kind == "model"]
        if item.kind == "entry" and models:
            return models[0]  # "of the regions" (a model, or a key to it in another)
        return valued_owner(items, items.index(item))
    return None
