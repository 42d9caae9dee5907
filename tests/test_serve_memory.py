"""`sqlgate serve` fixes glibc's mmap threshold (large export buffers go back to the system when
freed), in its own process and, through the environment, in the workers it starts; an
operator's own setting is left alone."""

from __future__ import annotations

import os
import platform
import sys

import pytest

from sqlgate.cli._memory import return_large_buffers

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="glibc only",
)


def test_the_threshold_is_fixed_for_this_process_and_its_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    return_large_buffers()
    assert os.environ["MALLOC_MMAP_THRESHOLD_"] == "131072"


def test_an_operators_setting_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "1048576")
    return_large_buffers()
    assert os.environ["MALLOC_MMAP_THRESHOLD_"] == "1048576"
