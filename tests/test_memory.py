"""core.memory: one budget for every store, least recently used first across stores, single-flight."""
from __future__ import annotations

import gc
import threading
import time

import numpy as np
import pytest

from core import memory


def _store(name: str, budget: memory.Budget, **kwargs) -> memory.Store:
    return memory.Store(name, size=lambda value: value.nbytes, budget=budget, **kwargs)


def test_least_recently_used_goes_first_across_stores():
    budget = memory.Budget(10_000)
    models, results = _store("models", budget), _store("results", budget)
    models.put("a", np.zeros(4000, np.uint8))
    results.put("x", np.zeros(4000, np.uint8))
    models.get("a")  # "a" is now more recent than "x"
    results.put("y", np.zeros(4000, np.uint8))  # 12 000 > 10 000: the oldest of either store goes
    assert "x" not in results and "a" in models and "y" in results
    assert budget.used_bytes() == 8000 <= budget.limit_bytes
    assert budget.report() == {"models": {"entries": 1, "bytes": 4000}, "results": {"entries": 1, "bytes": 4000}}


def test_keys_are_in_least_recently_used_order():
    store = _store("s", memory.Budget(1_000_000))
    for key in "abc":
        store.put(key, np.zeros(10, np.uint8))
    store.get("a")
    assert store.keys() == ["b", "c", "a"]


def test_an_entry_larger_than_the_budget_is_kept_alone():
    budget = memory.Budget(1000)
    store = _store("s", budget)
    store.put("small", np.zeros(500, np.uint8))
    store.put("huge", np.zeros(5000, np.uint8))
    assert store.keys() == ["huge"]


def test_not_evictable_stores_are_never_dropped():
    budget = memory.Budget(1000)
    pinned = _store("pinned", budget, evictable=False)
    other = _store("other", budget)
    pinned.put("p", np.zeros(800, np.uint8))
    other.put("o", np.zeros(800, np.uint8))
    assert "p" in pinned and "o" in other  # over budget: nothing else could go
    other.put("o2", np.zeros(100, np.uint8))
    assert "o" not in other and "p" in pinned


def test_max_entries_and_on_evict():
    dropped = []
    store = _store("s", memory.Budget(10**9), max_entries=2, on_evict=lambda key, value: dropped.append(key))
    for key in "abc":
        store.put(key, np.zeros(1, np.uint8))
    assert store.keys() == ["b", "c"] and dropped == ["a"] and store.evicted == 1


def test_single_flight_computes_once_for_twenty_threads():
    store = _store("s", memory.Budget(10**9))
    calls = []
    barrier = threading.Barrier(20)
    results = []

    def compute():
        calls.append(1)
        time.sleep(0.3)
        return np.arange(3)

    def ask():
        barrier.wait()
        results.append(store.get_or_compute("k", compute))

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 20 and all(r is results[0] for r in results)
    assert store.misses == 1 and store.hits == 19


def test_a_failure_reaches_every_waiter_and_is_not_kept():
    store = _store("s", memory.Budget(10**9))
    barrier = threading.Barrier(5)
    errors = []
    calls = []

    def failing():
        calls.append(1)
        time.sleep(0.3)
        raise ValueError("no")

    def ask():
        barrier.wait()
        try:
            store.get_or_compute("k", failing)
        except ValueError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(errors) == 5
    assert store.get_or_compute("k", lambda: np.zeros(2)).shape == (2,)  # the next call computes again


def test_a_failing_size_reaches_the_waiters_instead_of_hanging_them():
    def size(value):
        raise RuntimeError("cannot measure")

    store = memory.Store("s", size=size, budget=memory.Budget(10**9))
    outcome = []

    def slow():
        time.sleep(0.3)
        return 1

    def ask():
        try:
            store.get_or_compute("k", slow)
        except RuntimeError as exc:
            outcome.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads), "a waiter still hangs"
    assert len(outcome) == 3 and "k" not in store


def test_a_store_nobody_keeps_stops_counting():
    budget = memory.Budget(10**9)
    store = _store("temporary", budget)
    store.put("k", np.zeros(1000, np.uint8))
    assert budget.used_bytes() == 1000
    del store
    gc.collect()
    assert budget.used_bytes() == 0 and budget.stores == []


@pytest.mark.parametrize("value, expected", [(np.zeros((10, 10), np.float32), 400), (b"abcd", 4),
                                             ([np.zeros(8, np.uint8), np.zeros(8, np.uint8)], 16 + 56)])
def test_nbytes(value, expected):
    assert memory.nbytes(value) == expected


def test_the_report_thread_logs_and_keeps_running(caplog):
    budget = memory.Budget(10**9)
    store = _store("results", budget)
    store.put("k", np.zeros(2_000_000, np.uint8))
    with caplog.at_level("INFO", logger="dlclass.memory"):
        thread = memory.log_report_every(0.05, budget)
        time.sleep(0.5)
    assert thread.is_alive(), "the report thread died"
    assert any("memory: 2.0 of 1000 MB: results 1 (2.0 MB)" in r.getMessage() for r in caplog.records)


def test_freed_memory_goes_back_to_the_system():
    """A thread's freed blocks stay in glibc's arena (resident) until trimmed; a few survivors pin the rest.
    This is what the server does every minute (core.memory.log_report_every)."""
    import psutil

    if not memory.give_back_freed_memory():
        pytest.skip("no glibc malloc_trim here")
    process, survivors = psutil.Process(), []

    def allocate_then_free():
        blocks = [np.ones(60_000, np.uint8) for _ in range(3000)]  # 180 MB in blocks below mmap's threshold
        survivors.extend(blocks[::50])
        del blocks

    worker = threading.Thread(target=allocate_then_free)
    worker.start()
    worker.join()
    before = process.memory_info().rss
    assert memory.give_back_freed_memory()
    after = process.memory_info().rss
    assert before - after > 100e6, (before / 1e6, after / 1e6)
