"""numpy and pandas kept out of the server's process: sqlgate never uses them, yet they cost it
about 45 MB of resident memory when they happen to be installed.

Neither is a dependency of sqlgate, but an environment that has them (pandas with its tests or
notebooks, numpy with pandas) used to get both loaded into ``sqlgate serve``: pyarrow imports
numpy with itself when it can (12 MB), and imports pandas the first time it turns a Python
list into an array (``pa.array``, an empty table for a CSV header: 33 MB more), to check
whether the list is a pandas object. Without them, pyarrow works as in an installation that
lacks them, which is how sqlgate is installed and tested: results never pass through numpy or
pandas, and nanosecond values are turned into Python values by sqlgate itself (see
:mod:`sqlgate.results.jsonable`).

Only the server does this, before pyarrow is first imported (tests and the other commands run
in processes that may well use pandas).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

#: Top-level packages the server process does not import.
KEPT_OUT = ("numpy", "pandas")


class _KeptOut:
    """A finder ahead of the others that refuses :data:`KEPT_OUT` as if not installed."""

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name.partition(".")[0] in KEPT_OUT:
            raise ModuleNotFoundError(
                f"No module named {name!r} (not used by sqlgate serve)", name=name
            )
        return None


def keep_out_unused() -> None:
    """From now on, importing numpy or pandas in this process fails as if neither were
    installed (idempotent; nothing if one of them has been imported already, since its users
    hold it by then)."""
    if any(isinstance(finder, _KeptOut) for finder in sys.meta_path):
        return
    if any(name in sys.modules for name in KEPT_OUT):
        return
    sys.meta_path.insert(0, _KeptOut())
