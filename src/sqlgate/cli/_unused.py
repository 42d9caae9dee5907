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
for pandas. A package is kept out the way Python documents for it: ``None`` in ``sys.modules``
makes ``import`` fail with ``ModuleNotFoundError`` and ``importlib.util.find_spec`` answer
``None``, as for a package that is not installed, so a library that looks before it imports goes
on without it.
"""

from __future__ import annotations

import sys

from sqlgate.nl import embeddings

#: Top-level packages the server process does not import.
KEPT_OUT = ("numpy", "pandas", "rich", "pygments")


def keep_out_unused() -> None:
    """From now on, importing one of :data:`KEPT_OUT` in this process fails as if it were not
    installed (idempotent; one already imported is left alone, since its users hold it)."""
    if embeddings.requested():
        return
    for name in KEPT_OUT:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
