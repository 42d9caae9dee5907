"""What the rule-based translator looks up in the semantic model while it reads and plans: how
far apart two models are, which field a concept word means, a model's default measure."""

from __future__ import annotations

from sqlgate.nl.joins import hops
from sqlgate.nl.lexicon import Lexicon
from sqlgate.nl.name_words import name_words
from sqlgate.nl.semantic import CalculatedField, Column, SemanticIndex, SemanticModel
from sqlgate.nl.text import identifier_words, phrase_key, stem
from sqlgate.nl.values import ValueIndex
from sqlgate.nl.vocabulary import CONCEPT_FIELDS


class ModelFacts:
    """One semantic model and dialect, indexed for the translator's look-ups. The join distances
    are cached as they are asked for."""

    def __init__(
        self, model: SemanticModel, dialect: str, values: ValueIndex | None = None
    ) -> None:
        self.model = model
        self.dialect = dialect
        self.index = SemanticIndex(model)
        self.lexicon = Lexicon(self.index, values)
        self._hops: dict[str, dict[str, int]] = {}

    def distance(self, a: str, b: str) -> int:
        if a not in self._hops:
            self._hops[a] = hops(self.index, a)
        return self._hops[a].get(b, 1000)

    def nearby_models(self, model: str) -> list[str]:
        distances = self._hops.get(model.lower()) or hops(self.index, model)
        self._hops[model.lower()] = distances
        ordered = sorted(distances.items(), key=lambda kv: kv[1])
        return [self.index.models[name].name for name, cost in ordered if cost <= 10]

    def field_with_words(self, model: str, words: tuple[str, ...]) -> str | None:
        m = self.index.get_model(model)
        if m is None:
            return None
        stems = {stem(w) for w in words}
        fields: list[Column | CalculatedField] = [*m.columns, *m.calculated_fields]
        for f in fields:
            info = self.lexicon.field(m.name, f.name)
            if info.kind != "number" or info.key:
                continue
            names = [tuple(identifier_words(f.name)), name_words(f.name)]  # unit_prc: price
            names += [phrase_key(s) for s in f.synonyms]
            if any(stems & {stem(w) for w in ws} for ws in names):
                return str(f.name)
        return None

    def default_measure(self, model: str, *, named: bool = False) -> tuple[str, str] | None:
        """The number a bare aggregate of ``model`` is of: an amount, total, revenue, value,
        price or quantity, else its first number (with ``named``, only if it has no other)."""
        m = self.index.get_model(model)
        if m is None:
            return None
        fields: list[Column | CalculatedField] = [*m.columns, *m.calculated_fields]
        numeric = [
            f.name
            for f in fields
            if (info := self.lexicon.field(m.name, f.name)).kind == "number" and not info.key
        ]
        for preferred in (("amount", "total"), ("revenue", "value", "price"), ("quantity",)):
            for name in numeric:
                if any(w in preferred for w in name_words(name)):
                    return m.name, name
        return (m.name, numeric[0]) if numeric and (not named or len(numeric) == 1) else None

    def metric_for(self, concept: str, model: str | None = None) -> tuple[str, str] | None:
        wanted = {stem(w) for w in CONCEPT_FIELDS.get(concept, (concept,))}
        for metric in self.index.model.metrics:
            words = {stem(w) for w in identifier_words(metric.name)}
            for synonym in metric.synonyms:
                words |= set(phrase_key(synonym))
            if words & wanted:
                return metric.model, metric.name
        return None

    def referenced(self, model: str, field: str) -> str | None:
        """The model that ``model.field`` is a foreign key to (a to-one join on it alone)."""
        for join in self.index.joins.get(model.lower(), ()):
            if join.to_one and [c.lower() for c in join.left_columns] == [field.lower()]:
                return join.right
        return None

    def to_one_models(self, model: str) -> list[str]:
        """``model`` and the models reachable from it by to-one steps, nearest first."""
        out = [model]
        seen = {model.lower()}
        frontier = [model]
        while frontier:
            nxt = []
            for name in frontier:
                for join in self.index.joins.get(name.lower(), ()):
                    if join.to_one and join.right.lower() not in seen:
                        seen.add(join.right.lower())
                        out.append(join.right)
                        nxt.append(join.right)
            frontier = nxt
        return out
