"""A question word linked by a sentence-embedding model's similarity, when nothing else links it
(the optional ``embeddings`` extra, :mod:`sqlgate.nl.embeddings`).

The very last resort of step 1 (:mod:`sqlgate.nl.rules.words`), after names, synonyms, sampled
values, other forms and WordNet (:mod:`sqlgate.nl.rules.related_words`) found nothing for one
word. The word and the schema's names, said as words (``dept_name`` → "department name",
:func:`sqlgate.nl.name_words.name_words`), are embedded; the word links to the name it is most
similar to only when that similarity is at least :data:`THRESHOLD` and ahead of the most similar
name of any other thing by at least :data:`MARGIN` (:func:`pick`). Otherwise the word stays
unknown and the question declines: a wrong link makes a confident wrong answer, worse than a
decline.

Looked up are nouns only (:func:`looked_up`): letters, at least :data:`MIN_WORD` long, no stop
word or word the question vocabulary reads, no inflected verb ("produced": the rules that read
verbs account for it or decline), no capitalised word inside the sentence (a name, which only a
sampled value may match), and a noun in WordNet not more often used as a verb ("where", "both"
are read by other rules). Candidates (:func:`candidates`) are the names of tables and of columns
that are neither keys nor figures: a figure's name says exactly what it measures, and similar
words measure other things (``wages`` are no "salary", a ``cost`` no "price"), as for WordNet.
A word that is itself a word of some name ("phone" beside ``work_phone`` and ``mobile_number``)
is left to the vocabulary's rules for parts of names, which did not link it: no link either; nor
is a word linked to a one-noun name WordNet knows (:func:`wordnet_reads`), which WordNet did not
relate to it.
Entries found are marked ``via="lexicon"``, ranked below every name, synonym and value of the
model's own, as WordNet's are.

The names' embeddings are computed once per schema and kept (:func:`_name_vectors`, by the
names and :data:`~sqlgate.nl.embeddings.MODEL_ID`), and each word's once per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlgate.nl import embeddings, wordnet
from sqlgate.nl.lexicon import Entry, Lexicon
from sqlgate.nl.name_words import name_words
from sqlgate.nl.semantic import CalculatedField, Column
from sqlgate.nl.spelling import lemma
from sqlgate.nl.text import Token, stem
from sqlgate.nl.vocabulary import CONCEPT_WORDS, KEYWORDS, STOPWORDS

#: Least cosine similarity between the word and a name for a link.
THRESHOLD = 0.7
#: Least lead of the best name over the best name of any other thing.
MARGIN = 0.2
#: Shortest word looked up: shorter ones are too ambiguous to trust.
MIN_WORD = 4


@dataclass(frozen=True)
class Candidate:
    """A name as words ("home city") and the things of the model it names."""

    text: str
    entries: tuple[Entry, ...]


def pick(
    scored: Sequence[tuple[float, Candidate]], threshold: float, margin: float
) -> Candidate | None:
    """The candidate with the highest similarity, when it is at least ``threshold`` and at least
    ``margin`` ahead of the best candidate naming other things; else ``None``. Candidates that
    name the same things (a field's name and its synonym) do not compete."""
    if not scored:
        return None
    ranked = sorted(scored, key=lambda s: -s[0])
    best_score, best = ranked[0]
    if best_score < threshold:
        return None
    same = frozenset(e.part for e in best.entries)
    runner_up = next(
        (score for score, c in ranked[1:] if frozenset(e.part for e in c.entries) != same), None
    )
    if runner_up is not None and best_score - runner_up < margin:
        return None
    return best


def looked_up(token: Token, question_words: frozenset[str]) -> bool:
    """Whether ``token`` is a content word the model may be asked about (see the module)."""
    word = token.norm
    if token.kind != "word" or len(word) < MIN_WORD or not word.isalpha():
        return False
    if word in STOPWORDS or word in question_words or word in CONCEPT_WORDS or (word,) in KEYWORDS:
        return False
    if token.start > 0 and token.text[:1].isupper():
        return False  # a name inside the sentence: only a sampled value may match it
    if word.endswith(("ed", "ing")) and lemma(word) != word:
        return False
    # a noun to WordNet, and not more often a verb ("lodgers", "hometown"; not "where", "rank")
    return (
        wordnet.enabled()
        and bool(wordnet.base_forms(word, "n"))
        and wordnet.usual_part(word) != "v"
    )


def candidates(lexicon: Lexicon) -> tuple[Candidate, ...]:
    """The names of the model's tables and columns (no keys, no figures), said as words, each
    with the things it names; names said alike are one candidate naming all of them."""
    found: dict[str, list[Entry]] = {}

    def add(text: str, entry: Entry) -> None:
        text = " ".join(text.lower().split())
        if text and entry not in found.setdefault(text, []):
            found[text].append(entry)

    index = lexicon.index
    for model in index.model.models:
        entry = Entry("model", model.name, via="lexicon")
        add(" ".join(name_words(model.name)), entry)
        for synonym in model.synonyms:
            add(synonym, entry)
        fields: list[Column | CalculatedField] = [*model.columns, *model.calculated_fields]
        for field in fields:
            info = lexicon.field(model.name, field.name)
            if info.key or info.kind == "number":
                continue
            entry = Entry("field", model.name, field.name, via="lexicon")
            add(" ".join(name_words(field.name)), entry)
            for synonym in field.synonyms:
                add(synonym, entry)
    return tuple(Candidate(text, tuple(entries)) for text, entries in sorted(found.items()))


def embedded_entries(lexicon: Lexicon, token: Token) -> list[Entry]:
    """What the model names with the name most similar to ``token``, if one name clearly is."""
    if not embeddings.enabled() or not looked_up(token, _question_words()):
        return []
    schema = _schemas.get(lexicon)
    if schema is None:
        schema = _schemas[lexicon] = (candidates(lexicon), name_stems(lexicon))
    names, stems = schema
    if not names or stem(token.norm) in stems or stem(lemma(token.norm)) in stems:
        return []  # no name to link, or a word of a name that the vocabulary did not link
    vectors = _name_vectors(embeddings.MODEL_ID, tuple(c.text for c in names))
    similarities = vectors @ _word_vector(embeddings.MODEL_ID, token.norm)
    chosen = pick(
        list(zip((float(s) for s in similarities), names, strict=True)), THRESHOLD, MARGIN
    )
    if chosen is None or wordnet_reads(chosen.text):
        return []
    return list(chosen.entries)


def wordnet_reads(text: str) -> bool:
    """Whether a name is one noun WordNet knows ("seller", "city"): WordNet relates such a noun
    to the question's noun itself (:mod:`sqlgate.nl.rules.related_words`) and did not, so they
    are different things, however similar in use ("buyers" and ``seller``, "towns" and
    ``city``). The model links to names WordNet cannot read: several words ("home city" for
    "hometown"), or a word it does not know."""
    words = text.split()
    return len(words) == 1 and bool(wordnet.base_forms(words[0], "n"))


def name_stems(lexicon: Lexicon) -> frozenset[str]:
    """The stems of every word of the model's names and synonyms, as said and as written."""
    said = {w for n in _names(lexicon) for w in name_words(n)}
    return frozenset(stem(w) for w in said | lexicon.words)


def _names(lexicon: Lexicon) -> list[str]:
    model = lexicon.index.model
    out = [m.name for m in model.models] + [metric.name for metric in model.metrics]
    for m in model.models:
        out += [c.name for c in m.columns] + [c.name for c in m.calculated_fields]
    return out


#: Each vocabulary's candidates and name stems, kept while it is (one per prepared model).
_schemas: WeakKeyDictionary[Lexicon, tuple[tuple[Candidate, ...], frozenset[str]]] = (
    WeakKeyDictionary()
)


@lru_cache(maxsize=16)
def _name_vectors(model_id: str, texts: tuple[str, ...]) -> Any:
    return embeddings.encode(texts)


@lru_cache(maxsize=4096)
def _word_vector(model_id: str, word: str) -> Any:
    return embeddings.encode([word])[0]


def _question_words() -> frozenset[str]:
    from sqlgate.nl.rules.coverage import QUESTION_WORDS  # coverage reads the items words.py makes

    return QUESTION_WORDS
