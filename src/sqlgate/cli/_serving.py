"""The application as ``sqlgate serve`` runs it: built, then its startup heap frozen for the GC.

Python's cycle collector walks every container object it tracks. Once the server has started,
most of them are the modules, the application, its routes, schemas and caches, alive for the
life of the process: a full collection walks all of them (over 200,000 objects, a pause of
100 ms or more on a busy machine, which every request in flight waits out). ``gc.freeze()``
moves what exists at startup out of the collector's sight, so collections only walk what was
made since; and a young generation of :data:`YOUNG` objects instead of 700 lets the
collector run less often while requests make and drop their short-lived objects (freed by
reference counting long before, unless they form a cycle; cycles are still collected).

Only the server does this (tests build many applications in one process, and their garbage
must stay collectable).
"""

from __future__ import annotations

import gc

from fastapi import FastAPI

from sqlgate.settings import Settings

#: Allocations (less deallocations) of container objects between young collections.
YOUNG = 20_000


def serving_app(settings: Settings | None = None) -> FastAPI:
    """``create_app(settings)``, then the GC tuned for serving (see the module docstring)."""
    from sqlgate.cli._unused import keep_out_unused

    keep_out_unused()  # a worker process: before the application imports pyarrow
    from sqlgate.app import create_app
    from sqlgate.cli._access_log import use_access_logger

    use_access_logger()
    app = create_app(settings)
    gc.collect()  # what startup left behind, once, before freezing the rest
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old)
    return app
