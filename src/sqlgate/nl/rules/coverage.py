"""Every word accounted for: a check of the built query against the question, before answering.

The translator answers only when its query accounts for the question's content words. Two kinds
of gap make it decline (``NON_SQL_QUERY``, reason ``unclear``), saying what it understood and
what it did not:

* a content word that maps to nothing in the model and is not a filler word
  (:data:`FILLER_WORDS`: "corresponding", "his", "using", ...);
* a part of the question that mapped, but that the query does not show: a field, model, metric
  or value missing from the SQL, or a negation, superlative, comparison, aggregate, count or
  number with nothing in the SQL to carry it. The check reads the built semantic SQL itself, so
  a clause dropped anywhere on the way is caught.

The answer's ``coverage`` is the share of content words accounted for (1.0 when every one is).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import sqlglot
from sqlglot import exp

from sqlgate.nl.lexicon import FieldInfo, Lexicon
from sqlgate.nl.name_words import name_words
from sqlgate.nl.rules.cues import LIKE_CUES, RELATION_VERBS
from sqlgate.nl.rules.parts import FIGURE, RANKED_GROUP, Item
from sqlgate.nl.rules.role_joins import direction_shown
from sqlgate.nl.rules.verb_links import verb_shown
from sqlgate.nl.rules.wording import (
    EVENT_VERBS,
    extreme_beside_figures,
    role_fields,
    verb_accounted,
    word_in_shape,
)
from sqlgate.nl.semantic import SemanticIndex
from sqlgate.nl.text import NUMBER_WORDS, Token, identifier_words, stem
from sqlgate.nl.vocabulary import CONCEPT_FIELDS, KEYWORDS, STOPWORDS, _words

#: Words that add nothing a query could show: pronouns, connectives and verbs of reference.
FILLER_WORDS = _words(
    """his her hers him he she its itself themselves whose along together corresponding
    correspond corresponds respective respectively using use given listed named called
    someone anyone everyone everything something anything else well also too please thanks
    alphabetically alphabetical order ordered sorted sort names name detail details ids id
    all total overall only just through among compute calculate determine identify report retrieve
    dollars dollar euros euro usd eur cents located situated headquartered based"""
)

#: Words of a ranking ("the most popular", "the most common"): carried by its ORDER BY.
RANK_WORDS = _words("popular successful famous")

#: Words a question uses that are no model's: what a slip of typing is read as (with the model's).
QUESTION_WORDS = frozenset(
    {w for phrase in KEYWORDS for w in phrase}
    | STOPWORDS
    | FILLER_WORDS
    | EVENT_VERBS
    | RELATION_VERBS
    | LIKE_CUES
    | RANK_WORDS
    | set(NUMBER_WORDS)
)

#: Words of a set question and what shows them ("both A and B" is an INTERSECT).
_SET_WORDS: dict[str, tuple[type[exp.Expression], ...]] = {
    "both": (exp.Intersect,),
    "but": (exp.Except,),
    "either": (exp.Union, exp.Or, exp.In),
}

#: The keyword classes whose meaning must show in the SQL, and what shows it.
_KW_NODES: dict[str, tuple[type[exp.Expression], ...]] = {
    "neg": (exp.Not, exp.NEQ, exp.Except),
    "cmp": (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.EQ, exp.NEQ),
    # "the total count", "amount of bonus": a count word carried by a sum, and back
    "count": (exp.Count, exp.Sum),
}
_AGG_NODES: dict[str, tuple[type[exp.Expression], ...]] = {
    "sum": (exp.Sum, exp.Count),
    "avg": (exp.Avg,),
    "min": (exp.Min, exp.Ordered),
    "max": (exp.Max, exp.Ordered),
}


@dataclass(frozen=True)
class Coverage:
    """How much of the question the query accounts for, and what it leaves out."""

    score: float
    unknown: tuple[str, ...]  # content words that map to nothing
    dropped: tuple[str, ...]  # mapped phrases the query does not show

    @property
    def complete(self) -> bool:
        return not self.unknown and not self.dropped

    def describe(self) -> str:
        parts = []
        if self.unknown:
            parts.append("not understood: " + ", ".join(f"'{w}'" for w in self.unknown))
        if self.dropped:
            parts.append("understood but not used: " + ", ".join(f"'{w}'" for w in self.dropped))
        return "; ".join(parts)


class _Shown:
    """What a semantic SQL statement shows: tables, columns, literals, node types."""

    def __init__(self, sql: str, dialect: str, lexicon: Lexicon | None = None) -> None:
        tree = sqlglot.parse_one(sql, read=dialect)
        index = lexicon.index if lexicon is not None else None
        self.suspect = _suspect(tree, lexicon)
        self.text = sql.lower()
        self.tables = {t.name.lower() for t in tree.find_all(exp.Table)}
        self.columns = {c.name.lower() for c in tree.find_all(exp.Column)}
        # a role's alias ("harbours_source_harbour") reads the table it names
        named = {t.alias_or_name.lower(): t.name.lower() for t in tree.find_all(exp.Table)}
        self.qualified = {
            (named.get(c.table.lower(), c.table.lower()), c.name.lower())
            for c in tree.find_all(exp.Column)
            if c.table
        }
        self.bare = {c.name.lower() for c in tree.find_all(exp.Column) if not c.table}
        self.column_names = {c.name for c in tree.find_all(exp.Column)}
        self.star_tables = {
            c.table.lower() for c in tree.find_all(exp.Column) if isinstance(c.this, exp.Star)
        }
        self.literals = {
            str(lit.this).strip().lower() for lit in tree.find_all(exp.Literal) if lit.this
        }
        self.tree = tree
        first_select = tree.find(exp.Select) if isinstance(tree, exp.SetOperation) else tree
        assert first_select is not None
        source = first_select.args.get("from_") or first_select.args.get("from")
        first = source.find(exp.Table) if source is not None else None
        self.root = first.name.lower() if first is not None else ""
        self.nodes = {type(n) for n in tree.walk()}
        self.metric = False
        self.name_stems = _name_stems(self, index)
        if tree.args.get("distinct"):
            self.nodes.add(exp.Distinct)

    def carriers(self, kinds: tuple[type[exp.Expression], ...]) -> list[list[exp.Column]]:
        """The columns inside each node of ``kinds`` (an ORDER BY's alias counts as the
        expression it names)."""
        aliases = {a.alias.lower(): a.this for a in self.tree.find_all(exp.Alias)}
        out = []
        for node in self.tree.find_all(*kinds):
            columns = list(node.find_all(exp.Column))
            for c in list(columns):
                if not c.table and c.name.lower() in aliases:
                    columns += list(aliases[c.name.lower()].find_all(exp.Column))
            out.append(columns)
        return out

    def joined_twice(self, model: str) -> bool:
        """Whether the query reads ``model`` under two aliases (once per role)."""
        return sum(1 for t in self.tree.find_all(exp.Table) if t.name.lower() == model.lower()) > 1

    def has(self, kinds: tuple[type[exp.Expression], ...]) -> bool:
        return any(k in self.nodes for k in kinds)


def _suspect(tree: exp.Expression, lexicon: Lexicon | None) -> list[str]:
    """Conditions no one means: a number compared with a text or key column ("airlines with
    at least 10 flights" is a count of flights), one column equal to two values at once."""
    out: list[str] = []
    for node in tree.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE):
        column, other = node.this, node.expression
        if isinstance(column, exp.Cast):
            column = column.this
        if not isinstance(column, exp.Column) or not isinstance(other, exp.Literal):
            continue
        info = _field_info(lexicon, column)
        if other.is_number and info is not None and (info.key or info.kind == "text"):
            out.append(f"{column.name} compared with {other.this}")
    for select in tree.find_all(exp.Select):
        aggregated = any(
            a.find_ancestor(exp.Select) is select and a.find_ancestor(exp.Window) is None
            for a in select.find_all(exp.AggFunc)
        )  # its own aggregates: not a subquery's, not a window's (a running total)
        if aggregated and select.args.get("order") and not select.args.get("group"):
            out.append("an order on a single aggregated row")
        group = select.args.get("group")
        if group is not None and not select.args.get("joins") and lexicon is not None:
            out += _groups_of_one(group, lexicon)
        if group is not None:
            out += _counts_of_own_key(select, group)
    for where in tree.find_all(exp.Where, exp.Having):
        seen: dict[str, str] = {}
        for eq in where.find_all(exp.EQ):
            if isinstance(eq.this, exp.Column) and isinstance(eq.expression, exp.Literal):
                if isinstance(eq.parent, exp.Or) or eq.find_ancestor(exp.Or):
                    continue
                key, value = eq.this.sql().lower(), str(eq.expression.this)
                if seen.get(key, value) != value:
                    out.append(f"{eq.this.name} equal to both {seen[key]!r} and {value!r}")
                seen[key] = value
        out += _two_periods(where)
    return out


def _two_periods(where: exp.Expression) -> list[str]:
    """ "how many trips in 2022 and 2023" read as one row in both years: bounds of one column,
    all required, that no value meets ("2022 <= x < 2023 and 2023 <= x < 2024")."""
    lows: dict[str, list[tuple[object, bool]]] = {}
    highs: dict[str, list[tuple[object, bool]]] = {}
    for node in where.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between):
        if node.find_ancestor(exp.Or, exp.Where) is not where:
            continue  # under an "or", or in a subquery of its own
        key = node.this.sql().lower()
        if isinstance(node, exp.Between):
            bounds = [(node.args.get("low"), lows, False), (node.args.get("high"), highs, False)]
        else:
            low = isinstance(node, exp.GT | exp.GTE)
            strict = isinstance(node, exp.GT | exp.LT)
            bounds = [(node.expression, lows if low else highs, strict)]
        for literal, side, strict in bounds:
            if isinstance(literal, exp.Literal):
                value = float(literal.this) if literal.is_number else literal.this
                side.setdefault(key, []).append((value, strict))
    out = []
    for key in lows.keys() & highs.keys():
        for low, low_strict in lows[key]:
            for high, high_strict in highs[key]:
                if type(low) is not type(high):
                    continue
                if low > high or (low == high and (low_strict or high_strict)):  # type: ignore[operator]
                    out.append(f"{key} in two ranges at once")
    return out[:1]


def _overall_figures(items: list[Item], shown: _Shown) -> list[str]:
    """A comparison with an overall figure ("more than the average price") needs a scalar
    subquery; without one, the figure was dropped."""
    out = []
    significant = [i for i in items if not (i.kind == "word" and i.text.lower() in STOPWORDS)]
    for first, second in pairwise(significant):
        if first.kw == "cmp" and second.kw in ("agg", "sup") and exp.Subquery not in shown.nodes:
            out.append(f"{first.text} {second.text}")
    return out


def _counts_unshown(items: list[Item], shown: _Shown) -> list[str]:
    """ "grades that have at least 4 pupils": a comparison with a number of things a model
    names is a count of its rows; a query counting nothing compared something else."""
    if shown.has((exp.Count,)):
        return []
    significant = [i for i in items if not (i.kind == "word" and i.text.lower() in STOPWORDS)]
    out = []
    for first, second, third in zip(significant, significant[1:], significant[2:], strict=False):
        if first.kw != "cmp" or second.kind != "number" or third.kind != "entry":
            continue
        if third.chosen is not None and third.chosen.kind == "model":
            out.append(f"{first.text} {second.text} {third.text}")
    return out


def _counts_of_own_key(select: exp.Select, group: exp.Expression) -> list[str]:
    """ "how many countries have more than 2 makers" read as a count per country: a distinct
    count of a column the rows are grouped by is 1 in every group, never what was asked."""
    grouped = {c.sql().lower() for c in group.find_all(exp.Column)}
    out = []
    for count in select.find_all(exp.Count):
        inner = count.this
        if isinstance(inner, exp.Distinct) and len(inner.expressions) == 1:
            column = inner.expressions[0]
            if isinstance(column, exp.Column) and column.sql().lower() in grouped:
                out.append(f"a count of {column.name} in groups of one {column.name} each")
    return out


def _groups_of_one(group: exp.Expression, lexicon: Lexicon) -> list[str]:
    """A grouping by a whole primary key: every group is one row, so nothing is aggregated."""
    grouped: dict[str, set[str]] = {}
    for column in group.find_all(exp.Column):
        grouped.setdefault(column.table.lower(), set()).add(column.name.lower())
    for table, columns in grouped.items():
        model = lexicon.index.get_model(table)
        keys = {k.lower() for k in model.primary_key} if model else set()
        if keys and keys <= columns:
            return [f"groups of one {model.name if model else table} each"]
    return []


_CARRIERS: dict[str, tuple[type[exp.Expression], ...]] = {
    "cmp": (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.EQ, exp.NEQ),
    "sup": (exp.Ordered, exp.AggFunc),
    "top": (exp.Ordered, exp.AggFunc),
    "agg": (exp.Ordered, exp.AggFunc),
}


def _misplaced_fields(items: list[Item], shown: _Shown) -> list[str]:
    """A comparison, superlative or aggregate next to a field ("above age 20", "the largest
    horsepower") must be about that field: its column inside the node that carries it."""
    significant = [i for i in items if not (i.kind == "word" and i.text.lower() in STOPWORDS)]
    out = []
    for k, item in enumerate(significant):
        if item.kind != "kw" or item.kw not in _CARRIERS:
            continue
        if item.kw == "sup" and isinstance(item.arg, tuple) and item.arg[1] == "frequency":
            continue  # "the most common hometown": grouped by it, ranked by a count
        near = significant[k + 1 : k + 2]
        if item.kw == "cmp" and not _is_field(near[0] if near else None):
            if exp.Having in shown.nodes:
                continue  # "countries with more than 5 customers": a count per country
            near = significant[k - 1 : k] if k else []
        field = near[0] if near and _is_field(near[0]) else None
        if field is None or field.chosen is None or field.arg == FIGURE:
            continue  # "how much does the latest visit cost": the row's figure, not ranked
        name = str(field.chosen.name).lower()
        carried = any(
            c.name.lower() == name for node in shown.carriers(_CARRIERS[str(item.kw)]) for c in node
        )
        if not carried:
            out.append(f"{item.text} {field.text}")
    return out


def _is_field(item: Item | None) -> bool:
    return (
        item is not None
        and item.kind == "entry"
        and item.chosen is not None
        and item.chosen.kind == "field"
    )


def _both_values(items: list[Item], shown: _Shown) -> list[str]:
    """ "documents with paragraph 'Brazil' and 'Ireland'": two values of a column of another
    model joined by "and" may mean both at once, which one condition cannot say."""
    if exp.Intersect in shown.nodes:
        return []  # each value has its own part of the query
    values = [i for i in items if i.kind == "entry" and i.chosen and i.chosen.kind == "value"]
    out = []
    for first, second in pairwise(values):
        a, b = first.chosen, second.chosen
        if a is None or b is None:
            continue
        if (a.model, a.name) != (b.model, b.name) or a.model.lower() == shown.root:
            continue
        if shown.joined_twice(a.model):
            continue  # "from Avon to Brent": each value through its own relationship
        between = [i for i in items if first.last < i.first < second.first]
        if any(i.kw == "conj" and i.text.lower() == "and" for i in between):
            out.append(f"{first.text} and {second.text}")
    return out


def _field_info(lexicon: Lexicon | None, column: exp.Column) -> FieldInfo | None:
    if lexicon is None or not column.table:
        return None
    return lexicon.fields.get((column.table.lower(), column.name.lower()))


def _name_stems(shown: _Shown, index: SemanticIndex | None) -> set[str]:
    """The words of the names the query uses: its models, its columns, and every column of a
    model it lists whole."""
    names = set(shown.tables) | set(shown.column_names)  # case kept: HireDate is two words
    names -= _listed_whole(shown, index)
    if index is not None:
        for table in shown.tables | shown.star_tables:
            for field in index.fields.get(table, {}).values() if table in shown.star_tables else ():
                names.add(field.name)
            model = index.get_model(table)
            if model is not None:
                names.add(model.name)
    return {stem(w) for name in names for w in identifier_words(name)}


def _listed_whole(shown: _Shown, index: SemanticIndex | None) -> set[str]:
    """The columns the query shows only as all the columns of a model it lists ("which
    products are out of stock" listing every product): no word of theirs is said by the query."""
    select = shown.tree if isinstance(shown.tree, exp.Select) else None
    if index is None or select is None:
        return set()
    shown_by: dict[str, set[str]] = {}
    for column in select.expressions:
        if isinstance(column, exp.Column) and column.table:
            shown_by.setdefault(column.table.lower(), set()).add(column.name)
    elsewhere = {
        c.name
        for node in select.expressions
        for c in node.find_all(exp.Column)
        if not isinstance(node, exp.Column)
    }
    for key in ("where", "group", "having", "order", "joins"):
        found = select.args.get(key)
        for node in found if isinstance(found, list) else [found] if found else []:
            elsewhere |= {c.name for c in node.find_all(exp.Column)}
    out: set[str] = set()
    for table, columns in shown_by.items():
        fields = index.fields.get(table, {})
        if len(fields) > 2 and {f.lower() for f in fields} <= {c.lower() for c in columns}:
            out |= columns - elsewhere
    return out


#: Column words that also hold an amount of money ("charge_amount" for "the most expensive").
_MONEY_COLUMNS = {"price": ("amount", "fee", "charge", "paid", "payment", "fare")}


def measure_coverage(
    tokens: list[Token],
    items: list[Item],
    semantic_sql: str | None,
    dialect: str,
    lexicon: Lexicon | None = None,
) -> Coverage:
    """The coverage of ``items`` by ``semantic_sql`` (``None``: no query, nothing shown); the
    words of the names the query uses count as accounted for (``lexicon`` adds a listed model's
    columns, and the field kinds that show a comparison that cannot be meant)."""
    shown = _Shown(semantic_sql, dialect, lexicon) if semantic_sql else None
    if shown is not None:
        # a metric aggregates itself: "total revenue", "how much revenue"
        shown.metric = any(
            i.kind == "entry" and i.chosen and i.chosen.kind == "metric" for i in items
        )
    accounted: set[int] = set()
    unknown: list[str] = []
    dropped: list[str] = []
    counted = False  # the word after "how many", "number of", "average": what is measured
    for k, item in enumerate(items):
        span = range(item.first, item.last + 1)
        if item.kind in ("word", "quoted"):
            word = item.text.lower()
            if _word_accounted(word, tokens[item.first], None if counted else shown) or (
                shown is not None
                and (
                    (lexicon is not None and verb_accounted(word, items, k, shown, lexicon))
                    or word_in_shape(word, items, k, shown)
                )
            ):
                accounted.update(span)
            else:
                unknown.append(item.text)
            counted = counted and word in STOPWORDS
            continue
        counted = item.kind == "kw" and item.kw in ("count", "agg")
        if shown is None or _item_shown(item, shown) or _pronouns(tokens, item):
            accounted.update(span)
        else:
            dropped.append(item.text)
    if shown is not None:
        dropped += shown.suspect
        dropped += _overall_figures(items, shown)
        dropped += _counts_unshown(items, shown)
        dropped += _misplaced_fields(items, shown)
        dropped += _both_values(items, shown)
        if lexicon is not None:
            dropped += role_fields(items, shown, lexicon.index)
    content = [k for k, t in enumerate(tokens) if _content(t)]
    score = sum(1 for k in content if k in accounted) / len(content) if content else 1.0
    return Coverage(round(score, 2), tuple(unknown), tuple(dropped))


def _pronouns(tokens: list[Token], item: Item) -> bool:
    """The "or" of "his or her"."""
    before = tokens[item.first - 1].norm if item.first else ""
    after = tokens[item.last + 1].norm if item.last + 1 < len(tokens) else ""
    return item.kw == "conj" and before in ("his", "him", "he") and after in ("her", "she")


def _word_accounted(word: str, token: Token, shown: _Shown | None) -> bool:
    """An unmapped word that needs nothing of the query, or that the query's shape carries."""
    if word in STOPWORDS or word in FILLER_WORDS or token.kind == "number":
        return True
    if shown is None:
        return False
    if stem(word) in shown.name_stems:
        return True  # "the cars" when the query reads cars_data, "email" in email_address
    if verb_shown(word, shown.tables, shown.tree):
        return True  # "the courses they teach" when the query reads teacher
    if word == "where" and token.start > 0:
        # "countries where customers above 20 live", "towns where both A and B live"
        return shown.has((exp.Where, exp.Intersect, exp.Union, exp.Except))
    if direction_shown(word, shown.column_names):
        return True  # "flights departing from ...": the join on the source column
    if word == "but" and _negated_on_root(shown):
        return True  # "customers from Brazil but not from Rio": one row, both conditions
    if word == "both" and len(list(shown.tree.find_all(exp.In))) >= 2:
        return True  # "staff who both have vans and are trusted": two related rows
    if word in _SET_WORDS:
        return shown.has(_SET_WORDS[word])
    if word in LIKE_CUES:
        return shown.has((exp.Like,))
    if word in RELATION_VERBS:
        return len(shown.tables) > 1
    if word in ("number", "count"):
        return shown.has((exp.Count,))  # "list the name, id and the number": the count shown
    return word in RANK_WORDS and shown.has((exp.Order,))


def _negated_on_root(shown: _Shown) -> bool:
    """Whether a single query negates a condition on its root's own columns only: "A but not
    B" of one row (across a join, "but no" is a set difference, shown by EXCEPT)."""
    if isinstance(shown.tree, exp.SetOperation) or shown.tree.find(exp.Subquery):
        return False
    where = shown.tree.args.get("where")
    negations = list(where.find_all(exp.Not, exp.NEQ)) if where is not None else []
    return bool(negations) and all(
        c.table.lower() == shown.root for n in negations for c in n.find_all(exp.Column)
    )


def _content(token: Token) -> bool:
    return token.kind != "number" and token.norm not in STOPWORDS and token.norm not in FILLER_WORDS


def _item_shown(item: Item, shown: _Shown) -> bool:
    if item.kind == "entry":
        entry = item.chosen
        if entry is None:
            return False
        if entry.kind == "model" and item.arg == RANKED_GROUP:
            return shown.has((exp.Group,))  # "the rarest coat": the groups the rows make
        if entry.kind == "model":
            return entry.model.lower() in shown.tables
        if entry.kind == "metric":
            return str(entry.name).lower() in shown.text
        if entry.kind == "value" and entry.via == "boolean":  # TRUE, or 1 in a number column
            return (entry.model.lower(), str(entry.name).lower()) in shown.qualified
        if entry.kind == "value":
            return str(entry.value).strip().lower() in shown.literals or (
                str(entry.value).lower() in shown.text
            )
        name, model = str(entry.name).lower(), entry.model.lower()
        words = "_".join(item.text.lower().split())
        return (
            (model, name) in shown.qualified
            or name in shown.bare
            or model in shown.star_tables
            or any(words in column for table, column in shown.qualified if table == model)
            or any(words in column for column in shown.bare)
        )
    if item.kind == "kw":
        if item.kw in _KW_NODES:
            return shown.has(_KW_NODES[item.kw])
        if item.kw in ("agg", "count") and shown.metric:
            return True
        if item.kw == "agg":
            return shown.has(_AGG_NODES.get(str(item.arg), ()))
        if item.kw == "conj" and item.text.lower() in ("or", "either"):
            # "in 2014 or 2015": never "and" (an IN of a list, not of a subquery)
            ins = list(shown.tree.find_all(exp.In))
            listed = any(len(n.expressions) > 1 for n in ins)
            # "without departing or arriving shipments": neither, one NOT IN per alternative
            neither = sum(1 for n in ins if isinstance(n.parent, exp.Not)) > 1
            return listed or neither or shown.has((exp.Or, exp.Union))
        if item.kw in ("sort", "dir"):
            return shown.has((exp.Order,))  # "in descending order": never dropped
        if item.kw == "list" or item.kw == "distinct":
            return True  # "different", "distinct": a listing's rows, or keys, already are
        if item.kw in ("sup", "top"):
            latest = isinstance(item.arg, tuple) and item.arg[1] == "time"
            return shown.has((exp.Order,)) or (
                shown.has((exp.Min, exp.Max)) and not (latest and extreme_beside_figures(shown))
            )
        return True
    if item.kind == "concept" and item.arg == "sales":
        return shown.metric or shown.has((exp.Sum,))  # "revenue", "spending": a sum of money
    if item.kind == "concept" and item.arg in CONCEPT_FIELDS:
        # "the cost of the latest visit": a column of that kind is read (or a metric), never
        # only the date the rows are ranked by
        words = CONCEPT_FIELDS[str(item.arg)] + _MONEY_COLUMNS.get(str(item.arg), ())
        return shown.metric or any(
            w in c or w in name_words(c) for c in shown.columns for w in words
        )  # unit_prc: "price"
    if item.kind == "like":
        return f"%{item.text}%".lower() in shown.literals
    if item.kind == "number":
        return item.role is not None or item.text.lower() in shown.literals
    return True
