"""Large buffers back to the system once freed, for a long-running server that streams exports.

glibc's ``malloc`` serves blocks of 128 KiB and more with their own memory mappings, given back
when freed, but after the first such block is freed it raises that threshold to the block's size
(up to 32 MiB), so the export chunks that follow (megabytes each) come from the heap, which
keeps what it once held. A server that has sent a few large exports then stays tens of
megabytes larger than it needs to be (about 25 MB on a 5,000,000-row Parquet export, measured
with ``bench/export_vs_copy.py``). Fixing the threshold at its default keeps it from rising.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
_THRESHOLD = 128 * 1024  # glibc's default, fixed
_VARIABLE = "MALLOC_MMAP_THRESHOLD_"  # glibc reads it at start-up, in worker processes too


def return_large_buffers() -> None:
    """Fix glibc's mmap threshold in this process and the worker processes it starts; nothing
    on other C libraries, or when the operator set ``MALLOC_MMAP_THRESHOLD_`` themselves."""
    if not sys.platform.startswith("linux") or _VARIABLE in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no libc.so.6)
        return
    if mallopt(_M_MMAP_THRESHOLD, _THRESHOLD) == 1:
        os.environ[_VARIABLE] = str(_THRESHOLD)
