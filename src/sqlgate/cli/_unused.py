"""Libraries sqlgate never uses, kept out of the server's process: numpy, pandas, and the terminal
libraries rich and pygments. Not dependencies of sqlgate, they cost the server about 50 MB of
resident memory when they happen to be installed beside it.

An environment that has them (pandas with its tests or notebooks, numpy with pandas, rich and
pygments with developer tools) used to get them loaded into ``sqlgate serve``: pyarrow imports
numpy with itself when it can (12 MB), and imports pandas the first time it turns a Python list
into an array (``pa.array``, an empty table for a CSV header: 33 MB more), to check whether the
list is a pandas object; httpx imports rich and pygments for its command-line client (3.5 MB).
Without them, pyarrow and httpx work as in an installation that lacks them, which is how sqlgate
is installed: results never pass through numpy or pandas, and nanosecond values are turned into
Python values by sqlgate itself (see :mod:`sqlgate.results.jsonable`).

Only the server does this, before pyarrow and httpx are first imported (tests and the other
commands run in processes that may well use pandas), and not when the optional embedding model
is turned on (``SQLGATE_NL_EMBEDDINGS``): PyTorch needs numpy, and the libraries around it look
for pandas with ``importlib.util.find_spec``, which this finder answers with the same error as
``import``. ``None`` in ``sys.modules``, Python's other way to refuse a module, is not used:
libraries such as psycopg look in ``sys.modules`` for numpy and would take the ``None`` for it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

from sqlgate.nl import embeddings

#: Top-level packages the server process does not import.
KEPT_OUT = ("numpy", "pandas", "rich", "pygments")


class _KeptOut:
    """A finder ahead of the others that refuses ``packages`` as if not installed."""

    def __init__(self, packages: frozenset[str]) -> None:
        self.packages = packages

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name.partition(".")[0] in self.packages:
            raise ModuleNotFoundError(
                f"No module named {name!r} (not used by sqlgate serve)", name=name
            )
        return None


def keep_out_unused() -> None:
    """From now on, importing one of :data:`KEPT_OUT` in this process fails as if it were not
    installed (idempotent; one already imported is left alone, since its users hold it)."""
    if embeddings.requested() or any(isinstance(f, _KeptOut) for f in sys.meta_path):
        return
    packages = frozenset(name for name in KEPT_OUT if name not in sys.modules)
    if packages:
        sys.meta_path.insert(0, _KeptOut(packages))
