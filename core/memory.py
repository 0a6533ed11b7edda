"""One memory budget for everything the app keeps: loaded models, computed results, per-model caches.

A `Store` is a named cache of values that count against the shared `Budget`. When a new value would
push the total past the budget, the least recently used values of *any* store are dropped first
(models and results compete fairly: a result no one asked for in a while goes before a model in use).

Every store is single-flight: many threads asking for the same missing key at once cause exactly
one computation; the others wait for it and get the same value (or the same error). A failure is
never kept: the next call computes again.
"""
from __future__ import annotations

import functools
import itertools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("dlclass.memory")

DEFAULT_BUDGET_MB = 8000  # a free Space has 16 GB; half of it for kept models and results


@dataclass
class _Entry:
    value: Any
    bytes: int
    used: int  # a tick of the budget's clock: larger = used more recently
    pinned: bool = False  # a worked example: counted in the budget, never dropped to make room


class Budget:
    """Bytes allowed for all stores together."""

    def __init__(self, limit_bytes: int):
        self.limit_bytes = int(limit_bytes)
        self.lock = threading.RLock()
        # Weakly held: a store nobody keeps any more (a test's own loader, say) stops counting.
        self._stores: weakref.WeakSet[Store] = weakref.WeakSet()
        self._clock = itertools.count()

    @property
    def stores(self) -> list[Store]:
        with self.lock:
            return list(self._stores)

    def tick(self) -> int:
        return next(self._clock)

    def used_bytes(self) -> int:
        with self.lock:
            return sum(store.bytes() for store in self.stores)

    def report(self) -> dict[str, dict[str, int]]:
        """{store name: {"entries": n, "bytes": b}}: what the memory is spent on (bench and logs)."""
        with self.lock:
            report: dict[str, dict[str, int]] = {}
            for store in self.stores:  # stores of the same name (e.g. several model loaders) add up
                row = report.setdefault(store.name, {"entries": 0, "bytes": 0})
                row["entries"] += len(store)
                row["bytes"] += store.bytes()
            return report

    def make_room(self, keep: tuple[Store, Hashable] | None = None) -> None:
        """Drop least recently used entries across every store until the total fits (never `keep`)."""
        with self.lock:
            total = self.used_bytes()
            while total > self.limit_bytes:
                oldest = None
                for store in self.stores:
                    for key, entry in store._entries.items():
                        if keep == (store, key) or not store.evictable or entry.pinned:
                            continue
                        if oldest is None or entry.used < oldest[2].used:
                            oldest = (store, key, entry)
                if oldest is None:
                    break
                store, key, entry = oldest
                del store._entries[key]
                total -= entry.bytes
                store.evicted += 1
                log.info("dropped %s[%r] (%.1f MB) to stay under %.0f MB", store.name, key, entry.bytes / 1e6,
                         self.limit_bytes / 1e6)
                if store.on_evict is not None:
                    store.on_evict(key, entry.value)


def _default_budget() -> Budget:
    return Budget(int(float(os.environ.get("DLCLASS_MEMORY_BUDGET_MB") or DEFAULT_BUDGET_MB) * 1e6))


BUDGET = _default_budget()


class Store:
    """A single-flight cache whose entries count against a `Budget`.

    size(value) -> bytes says what an entry costs; max_entries bounds the count too (0 = no bound).
    """

    def __init__(self, name: str, size: Callable[[Any], int], budget: Budget | None = None,
                 max_entries: int = 0, evictable: bool = True,
                 on_evict: Callable[[Hashable, Any], None] | None = None):
        self.name = name
        self.size = size
        self.budget = budget or BUDGET
        self.max_entries = max_entries
        self.evictable = evictable
        self.on_evict = on_evict
        self._entries: dict[Hashable, _Entry] = {}
        self._inflight: dict[Hashable, Future] = {}
        self.hits = self.misses = self.evicted = 0
        with self.budget.lock:
            self.budget._stores.add(self)

    def __len__(self) -> int:
        return len(self._entries)

    def bytes(self) -> int:
        with self.budget.lock:
            return sum(e.bytes for e in self._entries.values())

    def get(self, key: Hashable, default=None):
        with self.budget.lock:
            entry = self._entries.get(key)
            if entry is None:
                return default
            entry.used = self.budget.tick()
            return entry.value

    def __contains__(self, key: Hashable) -> bool:
        with self.budget.lock:
            return key in self._entries

    def put(self, key: Hashable, value: Any, pinned: bool = False) -> Any:
        """Keep `value`; a `pinned` one (a tab's worked example) counts in the budget but is never dropped
        to make room, and never counts against max_entries (only unpinned entries do)."""
        nbytes = int(self.size(value))
        with self.budget.lock:
            old = self._entries.get(key)
            self._entries[key] = _Entry(value, nbytes, self.budget.tick(), pinned or bool(old and old.pinned))
            unpinned = [k for k, e in self._entries.items() if not e.pinned and k != key]
            if self.max_entries and len(unpinned) + 1 > self.max_entries and unpinned:
                oldest = min(unpinned, key=lambda k: self._entries[k].used)
                dropped = self._entries.pop(oldest)
                self.evicted += 1
                if self.on_evict is not None:
                    self.on_evict(oldest, dropped.value)
            self.budget.make_room(keep=(self, key))
        return value

    def pinned(self) -> int:
        """How many entries are pinned."""
        with self.budget.lock:
            return sum(e.pinned for e in self._entries.values())

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any], pin: bool = False) -> Any:
        """The value of `key`, computed once even when many threads ask at the same moment (`pin`: keep it
        pinned, see `put`; a value already kept becomes pinned too)."""
        with self.budget.lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.used = self.budget.tick()
                entry.pinned = entry.pinned or pin
                self.hits += 1
                return entry.value
            future = self._inflight.get(key)
            owner = future is None
            if owner:
                future = self._inflight[key] = Future()
                self.misses += 1
            else:
                self.hits += 1  # joined a computation already under way
        if not owner:
            return future.result()
        try:
            value = compute()
            # Measured outside the budget's lock (a model's size takes a while); inside the try, so that a
            # failing size() reaches the waiters too instead of leaving them waiting forever.
            self.put(key, value, pinned=pin)
        except BaseException as exc:
            with self.budget.lock:
                self._inflight.pop(key, None)
            future.set_exception(exc)
            raise
        with self.budget.lock:
            self._inflight.pop(key, None)
        future.set_result(value)
        return value

    def pop(self, key: Hashable, default=None):
        with self.budget.lock:
            entry = self._entries.pop(key, None)
            return default if entry is None else entry.value

    def clear(self) -> None:
        with self.budget.lock:
            self._entries.clear()

    def keys(self) -> list:
        """The keys, least recently used first."""
        with self.budget.lock:
            return sorted(self._entries, key=lambda key: self._entries[key].used)


def nbytes(value: Any, _seen: set[int] | None = None) -> int:
    """A good-enough size of a computed value: arrays and tensors exactly, containers summed, the rest small."""
    import sys

    seen = _seen if _seen is not None else set()
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = getattr(value, "nbytes", None)  # numpy arrays
    if isinstance(size, int):
        return size
    try:
        import torch

        if isinstance(value, torch.Tensor):
            return value.numel() * value.element_size()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, (str, bytes, bytearray)):
        return len(value)
    if isinstance(value, dict):
        return sum(nbytes(k, seen) + nbytes(v, seen) for k, v in value.items()) + 64
    if isinstance(value, (list, tuple, set, frozenset)):
        return sum(nbytes(v, seen) for v in value) + 56
    if hasattr(value, "to_plotly_json"):  # a Plotly figure: its JSON is what it costs
        try:
            return len(value.to_json())
        except Exception:
            return 10_000
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return sum(nbytes(v, seen) for v in vars(value).values()) + 64
    return sys.getsizeof(value)


@functools.cache  # looked up once: the hand-back runs every minute
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None (another C library, another system)."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def give_back_freed_memory() -> bool:
    """Hand the memory Python and torch have freed back to the system (glibc keeps freed blocks in its arenas,
    one per thread that allocated, so a server of many threads grows in resident memory long after the
    values are gone; measured in the soak bench, bench/bench_soak.py). False where there is no glibc."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def log_report_every(seconds: float, budget: Budget | None = None) -> threading.Thread:
    """Log what the memory budget is spent on, every `seconds` while it changes (server log; the bench reads
    it), and each time give the memory freed since back to the system."""
    budget = budget or BUDGET

    def run():
        last = None
        while True:
            give_back_freed_memory()
            report = budget.report()
            if report != last:
                used = sum(s["bytes"] for s in report.values())
                parts = ", ".join(f"{name} {s['entries']} ({s['bytes'] / 1e6:.1f} MB)" for name, s in report.items())
                log.info("memory: %.1f of %.0f MB: %s", used / 1e6, budget.limit_bytes / 1e6, parts)
                last = report
            time.sleep(seconds)

    thread = threading.Thread(target=run, name="dlclass-memory-report", daemon=True)
    thread.start()
    return thread
