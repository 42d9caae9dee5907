"""Schema retrieval: the few tables of a large catalog that a question needs, as prompt text.

A prompt cannot carry a catalog of hundreds of tables, so the LLM pipeline asks
:meth:`SchemaIndex.retrieve` for at most ``max_tables`` tables and a rendered schema that fits a
token budget. Retrieval is lexical and runs offline:

1. Every table is a small document with weighted fields: its name, its subject area (schema,
   when the catalog has several, and a dbt-style ``area__entity`` name prefix), its columns'
   names, table and column comments, and caller-supplied aliases (a semantic model's
   synonyms). Identifiers are split on ``snake_case``, ``camelCase``, digits and spaces,
   compounds such as ``countrylanguage`` are split against the catalog's own words, and common
   abbreviations (``fname``, ``qty``, ``dept``) are spelled out.
2. The question is split the same way, stop words dropped, words reduced by a small English
   stemmer (``countries`` and ``country`` match), widened with a few synonyms, and adjacent
   words also tried joined (``high schooler`` finds ``Highschooler``).
3. Tables are ranked by BM25F over those fields plus half their subject area's coverage of the
   question (tables joined by foreign keys or sharing a namespace form an area): a question
   usually names several tables of one area, so ``singer`` next to ``concert`` outranks a
   ``singer`` table elsewhere.
4. The chosen tables are joined up along foreign keys: when two of them are linked only through
   other tables (``student`` and ``course`` through ``enrollment``), the shortest path's bridge
   tables come along.

See ``docs/llm.md`` for recall and prompt size on Spider's 876-table catalog.

The result renders as ``CREATE TABLE`` text (keys and comments included), cut to the budget by
first shortening the lowest-ranked tables to their key and matched columns, then dropping them.
Token counts are estimates (:func:`sqlgate.nl.tokens.estimate_tokens`).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlgate.nl._retrieval_words import (
    ABBREVIATIONS,
    OPERATOR_WEIGHT,
    OPERATOR_WORDS,
    SYNONYMS,
    question_words,
    split_identifier,
    stem,
)
from sqlgate.nl._schema_text import qualified_name, render_table
from sqlgate.nl.tokens import estimate_tokens
from sqlgate.vocabulary.schema import DatabaseSchema, SchemaTable

DEFAULT_MAX_TABLES = 10
DEFAULT_TOKEN_BUDGET = 4000

# BM25 constants (the usual ones) and field weights: a word in the table's name says more about
# what the table holds than the same word in one of its columns.
_K1 = 1.2
_B = 0.75
_NAME_WEIGHT = 3.0
_COLUMN_WEIGHT = 1.0
_COMMENT_WEIGHT = 0.5
_AREA_WEIGHT = 0.5
_SYNONYM_WEIGHT = 0.7
# The share of its subject area's coverage of the question that counts towards a table's rank.
_AREA_SHARE = 0.5
# Bridges are only worth a slot between tables that matched the question well.
_BRIDGE_MIN_SHARE = 0.3
_MAX_BRIDGE_HOPS = 3
# Blank line between two tables' texts.
_SEPARATOR_TOKENS = 1


@dataclass(frozen=True)
class RetrievedTable:
    """One table chosen for the prompt, and why."""

    table: SchemaTable
    #: The table's own BM25F score; 0 for a bridge table.
    score: float
    #: ``"match"`` (the question names it or its columns) or ``"bridge"`` (joins two matches).
    reason: str
    #: Question words (stemmed) found in the table's name or columns.
    matched_words: tuple[str, ...] = ()
    #: Columns whose names contain a question word.
    matched_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetrievedSchema:
    """What :meth:`SchemaIndex.retrieve` returns: ranked tables and their rendered text."""

    tables: tuple[RetrievedTable, ...]
    #: The tables' names, schema-qualified when the catalog has several schemas.
    names: tuple[str, ...]
    text: str
    #: Estimated tokens of ``text``.
    tokens: int
    #: True when columns or tables were left out of ``text`` to fit the budget.
    shortened: bool = False
    #: Tables retrieved but left out of ``text`` because even shortened they did not fit.
    omitted: tuple[str, ...] = ()


@dataclass
class _Doc:
    table: SchemaTable
    weights: dict[str, float]  # stemmed word -> weighted term frequency
    length: float
    column_words: dict[str, set[str]] = field(default_factory=dict)  # column -> stemmed words


class SchemaIndex:
    """An index over one introspected schema, built once and queried per question.

    ``aliases`` maps a table (``orders``, ``sales.orders``) or a column (``orders.amount``) to
    more words users say for it, for example a semantic model's synonyms and display names; they
    count as much as the name they stand for. Names are matched case-insensitively.
    """

    def __init__(
        self, schema: DatabaseSchema, *, aliases: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        self.schema = schema
        self._synonyms: dict[str, set[str]] = defaultdict(set)
        for word, alternatives in SYNONYMS.items():
            for alternative in alternatives:
                self._synonyms[stem(word)].add(stem(alternative))
        self._aliases: dict[str, list[str]] = defaultdict(list)
        for name, words in (aliases or {}).items():
            self._aliases[name.lower()].extend(words)
        self._qualify = len(schema.schemas) > 1
        tables = schema.tables
        vocabulary = self._vocabulary(tables)
        self._docs = [self._document(t, vocabulary) for t in tables]
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, doc in enumerate(self._docs):
            for word, weight in doc.weights.items():
                self._postings[word].append((i, weight))
        count = max(len(self._docs), 1)
        average = sum(d.length for d in self._docs) / count or 1.0
        self._norms = [_K1 * (1 - _B + _B * d.length / average) for d in self._docs]
        self._idf = {
            word: math.log(1 + (count - len(p) + 0.5) / (len(p) + 0.5))
            for word, p in self._postings.items()
        }
        self._neighbours = self._link_tables(tables)
        self._areas = self._group_areas(tables, self._neighbours)

    # --- building ------------------------------------------------------------------------

    def _namespace(self, table: SchemaTable) -> str:
        """The subject-area part of a table's name: its schema (when the catalog has several)
        and a dbt-style ``area__entity`` prefix."""
        prefix = table.name.rpartition("__")[0]
        if self._qualify and table.schema:
            return f"{table.schema}.{prefix}"
        return prefix

    @staticmethod
    def _entity(table: SchemaTable) -> str:
        return table.name.rpartition("__")[2]

    @staticmethod
    def _vocabulary(tables: Iterable[SchemaTable]) -> set[str]:
        words: set[str] = set()
        for table in tables:
            for name in (SchemaIndex._entity(table), *(c.name for c in table.columns)):
                words.update(w for w in split_identifier(name) if len(w) >= 3)
        return words

    @staticmethod
    def _identifier_words(name: str, vocabulary: set[str]) -> list[tuple[str, float]]:
        """Stemmed words of an identifier with their weights: compounds split
        (``countrylanguage``, parts at half weight) and abbreviations spelled out (``fname``)."""
        words: list[tuple[str, float]] = []
        for word in split_identifier(name):
            words.append((word, 1.0))
            words.extend((w, 1.0) for w in ABBREVIATIONS.get(word, ()))
            if len(word) >= 7:
                for cut in range(3, len(word) - 2):
                    head, tail = word[:cut], word[cut:]
                    if head in vocabulary and tail in vocabulary:
                        words.extend(((head, 0.5), (tail, 0.5)))
                        break
        return [(stem(w), weight) for w, weight in words]

    def _aliases_of(self, *names: str) -> list[str]:
        keys = dict.fromkeys(name.lower() for name in names)
        return [word for key in keys for word in self._aliases.get(key, ())]

    def _document(self, table: SchemaTable, vocabulary: set[str]) -> _Doc:
        weights: dict[str, float] = defaultdict(float)
        qualified = qualified_name(table)
        for word, weight in self._identifier_words(self._entity(table), vocabulary):
            weights[word] += _NAME_WEIGHT * weight
        for alias in self._aliases_of(table.name, qualified):
            for word in question_words(alias):
                weights[stem(word)] += _NAME_WEIGHT
        for word, weight in self._identifier_words(self._namespace(table), vocabulary):
            weights[word] += _AREA_WEIGHT * weight
        column_words: dict[str, set[str]] = {}
        for column in table.columns:
            words = self._identifier_words(column.name, vocabulary)
            for alias in self._aliases_of(
                f"{table.name}.{column.name}", f"{qualified}.{column.name}"
            ):
                words.extend((stem(w), 1.0) for w in question_words(alias))
            column_words[column.name] = {w for w, _ in words}
            for word, weight in words:
                weights[word] += _COLUMN_WEIGHT * weight
            for word in question_words(column.comment or ""):
                weights[stem(word)] += _COMMENT_WEIGHT
        for word in question_words(table.comment or ""):
            weights[stem(word)] += _COMMENT_WEIGHT
        return _Doc(table, dict(weights), sum(weights.values()), column_words)

    @staticmethod
    def _link_tables(tables: tuple[SchemaTable, ...]) -> list[set[int]]:
        """Undirected foreign-key graph over table positions."""
        by_name: dict[str, list[int]] = defaultdict(list)
        for i, table in enumerate(tables):
            by_name[table.name.lower()].append(i)
        neighbours: list[set[int]] = [set() for _ in tables]
        for i, table in enumerate(tables):
            for key in table.foreign_keys:
                targets = by_name.get(key.references_table.lower(), [])
                schema = key.references_schema or table.schema
                same = [j for j in targets if tables[j].schema == schema] or targets
                for j in same[:1]:
                    if j != i:
                        neighbours[i].add(j)
                        neighbours[j].add(i)
        return neighbours

    def _group_areas(self, tables: tuple[SchemaTable, ...], links: list[set[int]]) -> list[int]:
        """Subject areas: tables joined by foreign keys or sharing a namespace, one id each."""
        parent = list(range(len(tables)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        first_in: dict[str, int] = {}
        for i, table in enumerate(tables):
            namespace = self._namespace(table)
            if namespace:
                parent[root(i)] = root(first_in.setdefault(namespace, i))
            for j in links[i]:
                parent[root(i)] = root(j)
        return [root(i) for i in range(len(tables))]

    # --- querying ------------------------------------------------------------------------

    def _query_terms(self, question: str) -> dict[str, float]:
        """Stemmed question words and their weights: 1 for a word, lower for a synonym or an
        aggregate word; two adjacent words also count joined (``high schooler`` finds
        ``Highschooler``)."""
        terms: dict[str, float] = {}
        words = question_words(question)
        for word in words:
            stemmed = stem(word)
            for synonym in self._synonyms.get(stemmed, ()):
                terms.setdefault(synonym, _SYNONYM_WEIGHT)
            weight = OPERATOR_WEIGHT if word in OPERATOR_WORDS else 1.0
            terms[stemmed] = max(weight, terms.get(stemmed, 0.0))
        for first, second in itertools.pairwise(words):
            joined = stem(first + second)
            if joined in self._postings:
                terms[joined] = 1.0
        return {t: w for t, w in terms.items() if t in self._postings}

    def _term_scores(self, terms: dict[str, float]) -> dict[int, dict[str, float]]:
        """Per table, each matched term's BM25F contribution."""
        scores: dict[int, dict[str, float]] = defaultdict(dict)
        for term, query_weight in terms.items():
            idf = self._idf[term]
            for i, tf in self._postings[term]:
                scores[i][term] = query_weight * idf * tf * (_K1 + 1) / (tf + self._norms[i])
        return scores

    def retrieve(
        self,
        question: str,
        *,
        max_tables: int = DEFAULT_MAX_TABLES,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
    ) -> RetrievedSchema:
        """At most ``max_tables`` tables relevant to ``question`` and their schema text within
        ``token_budget`` estimated tokens. A question that matches nothing gets no tables."""
        terms = self._query_terms(question)
        per_term = self._term_scores(terms)
        chosen = self._choose(per_term, max_tables)
        tables = [
            self._retrieved(i, sum(per_term.get(i, {}).values()), reason, terms)
            for i, reason in chosen
        ]
        return self._render(tables, token_budget)

    def _choose(
        self, per_term: dict[int, dict[str, float]], max_tables: int
    ) -> list[tuple[int, str]]:
        """Rank tables by their own score plus a share of their subject area's coverage of the
        question (each question word counted once, at the area's best table for it): a table
        whose neighbours match the rest of the question outranks a look-alike in an unrelated
        area. Take them in rank order; each strong pick brings the bridge tables that join it
        to the strong tables of its area."""
        if max_tables <= 0 or not per_term:
            return []
        area_best: dict[int, dict[str, float]] = defaultdict(dict)
        for i, scores in per_term.items():
            best = area_best[self._areas[i]]
            for term, score in scores.items():
                best[term] = max(best.get(term, 0.0), score)
        area_score = {a: sum(b.values()) for a, b in area_best.items()}
        rank = {
            i: sum(scores.values()) + _AREA_SHARE * area_score[self._areas[i]]
            for i, scores in per_term.items()
        }
        ranked = heapq.nlargest(max_tables, rank, key=rank.__getitem__)
        chosen: dict[int, str] = {}
        strong: dict[int, list[int]] = defaultdict(list)  # area -> tables worth bridging to
        top = rank[ranked[0]]
        for i in ranked:
            if len(chosen) >= max_tables:
                break
            if i in chosen:
                continue
            chosen[i] = "match"
            if rank[i] < _BRIDGE_MIN_SHARE * top:
                continue
            area = self._areas[i]
            for j in strong[area]:
                path = self._path(i, j)
                bridges = [k for k in path[1:-1] if k not in chosen]
                if path and len(chosen) + len(bridges) <= max_tables:
                    for k in bridges:
                        chosen[k] = "bridge"
            strong[area].append(i)
        return list(chosen.items())

    def _path(self, start: int, goal: int) -> list[int]:
        """Shortest foreign-key path from ``start`` to ``goal`` (both included), or []."""
        previous: dict[int, int] = {start: start}
        queue = deque([(start, 0)])
        while queue:
            node, hops = queue.popleft()
            if node == goal:
                path = [goal]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return path[::-1]
            if hops >= _MAX_BRIDGE_HOPS:
                continue
            for nxt in sorted(self._neighbours[node]):
                if nxt not in previous:
                    previous[nxt] = node
                    queue.append((nxt, hops + 1))
        return []

    def _retrieved(
        self, i: int, score: float, reason: str, terms: Mapping[str, float]
    ) -> RetrievedTable:
        doc = self._docs[i]
        words = tuple(sorted(t for t in terms if t in doc.weights))
        columns = tuple(c for c, ws in doc.column_words.items() if ws & terms.keys())
        return RetrievedTable(
            doc.table,
            round(score, 4) if reason == "match" else 0.0,
            reason,
            words,
            columns,
        )

    # --- rendering -----------------------------------------------------------------------

    def _name(self, table: SchemaTable) -> str:
        return qualified_name(table) if self._qualify else table.name

    def _render(self, tables: list[RetrievedTable], budget: int) -> RetrievedSchema:
        """Schema text for ``tables`` within ``budget``: the lowest-ranked tables are shortened
        to their key and matched columns first, then dropped, until the text fits."""
        blocks = [render_table(t.table, qualify=self._qualify) for t in tables]
        costs = [estimate_tokens(b) for b in blocks]
        shortened = False
        for position in range(len(tables) - 1, -1, -1):
            if sum(costs) + _SEPARATOR_TOKENS * len(blocks) <= budget:
                break
            table = tables[position]
            short = render_table(table.table, qualify=self._qualify, keep=table.matched_columns)
            if short != blocks[position]:
                blocks[position], costs[position] = short, estimate_tokens(short)
                shortened = True
        while blocks and sum(costs) + _SEPARATOR_TOKENS * len(blocks) > budget:
            blocks.pop()
            costs.pop()
        names = tuple(self._name(t.table) for t in tables)
        text = "\n\n".join(blocks)
        return RetrievedSchema(
            tables=tuple(tables),
            names=names,
            text=text,
            tokens=estimate_tokens(text),
            shortened=shortened or len(blocks) < len(tables),
            omitted=names[len(blocks) :],
        )
