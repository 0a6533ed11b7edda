"""The result cache of `core.events.on(..., cache=True)`: identical requests are computed once.

A request's key is made of the event function, the kind of its outputs, the page's language (where the
function speaks one), a fingerprint of its inputs and, where given, what `cache_key()` says. Requests that
arrive while the same work is under way join it (single-flight). Results count against the app's one
memory budget (`core.memory`).
"""
from __future__ import annotations

import hashlib
import inspect
import math
import threading
from pathlib import Path
from typing import Any, Callable, Hashable

import numpy as np

from core import memory, text

RESULTS = memory.Store("results", size=memory.nbytes, max_entries=2000)

_file_digests: dict[tuple, str] = {}
_file_digests_lock = threading.Lock()


def _file_digest(path: Path) -> str:
    """Content hash of a file (memoised by path, size and mtime): the same photo uploaded by 30 students
    lands in different places but is the same input."""
    stat = path.stat()
    memo = (str(path), stat.st_size, stat.st_mtime_ns)
    with _file_digests_lock:
        digest = _file_digests.get(memo)
    if digest is None:
        hasher = hashlib.blake2b(digest_size=16)
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(chunk)
        digest = hasher.hexdigest()
        with _file_digests_lock:
            if len(_file_digests) > 10_000:
                _file_digests.clear()
            _file_digests[memo] = digest
    return digest


def fingerprint(value: Any) -> Any:
    """A hashable stand-in for an input value: files by content, arrays by bytes, containers recursively."""
    if value is None or isinstance(value, (bool, int, str)):
        if isinstance(value, str) and len(value) < 4096 and ("/" in value or "\\" in value):
            path = Path(value)
            try:
                if path.is_file():
                    return ("file", _file_digest(path))
            except OSError:
                pass
        return value
    if isinstance(value, float):
        return ("float", repr(value)) if not math.isnan(value) else ("float", "nan")
    if isinstance(value, (bytes, bytearray)):
        return ("bytes", hashlib.blake2b(bytes(value), digest_size=16).hexdigest())
    if isinstance(value, np.ndarray):
        return ("array", value.shape, str(value.dtype),
                hashlib.blake2b(np.ascontiguousarray(value).tobytes(), digest_size=16).hexdigest())
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), fingerprint(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(fingerprint(v) for v in value))
    if hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "tobytes"):
        return fingerprint(np.asarray(value))
    try:
        from PIL import Image

        if isinstance(value, Image.Image):
            return ("pil", value.mode, value.size, hashlib.blake2b(value.tobytes(), digest_size=16).hexdigest())
    except ImportError:  # pragma: no cover
        pass
    return ("repr", repr(value))


def request_key(fn: Callable, outputs: list, wants_lang: bool,
                cache_key: Callable[[], Any] | None = None) -> Callable[[tuple, str], Hashable]:
    """key(args, lang) for `fn`'s requests. Not the trigger: the worked example on opening and a click on the
    same setting share one result. The kind (and picture format) of each output is in it: they change
    the prepared outputs as much as fn does."""
    output_kinds = tuple((type(c).__name__, getattr(c, "format", None)) for c in outputs)

    def key(args: tuple, lang: str) -> Hashable:
        extra = cache_key() if cache_key is not None else None
        return (id(fn), output_kinds, lang if wants_lang else None, fingerprint(args), extra)

    return key


def cached(compute: Callable, key: Callable[[tuple, str], Hashable], store: memory.Store = RESULTS,
           pin: bool = False) -> Callable:
    """compute(*args, lang=...) answered from `store` when the same request was computed before. A plain
    function's requests join a computation under way; a generator streams its steps the first time and
    keeps its last one, which later requests get at once. A failure is never kept. `pin`: the results are a
    tab's worked examples, kept pinned (never evicted by other requests, still counted in the budget)."""
    if inspect.isgeneratorfunction(compute):
        def run_stream(*args, lang: str = text.DEFAULT_LANG):
            request = key(args, lang)
            hit = store.get(request)
            if hit is not None:
                yield hit
                return
            last = None
            for last in compute(*args, lang=lang):
                yield last
            if last is not None:
                store.put(request, last, pinned=pin)
        return run_stream

    def run(*args, lang: str = text.DEFAULT_LANG):
        return store.get_or_compute(key(args, lang), lambda: compute(*args, lang=lang), pin=pin)
    return run
