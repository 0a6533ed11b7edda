"""core.batching.MicroBatcher: distinct requests batched, each caller its own result or its own exception."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.batching import MicroBatcher


class Recorder:
    """A run_batch that doubles numbers, taking `busy_s` per batch (a model), and records every batch."""

    def __init__(self, busy_s: float = 0.02):
        self.busy_s = busy_s
        self.batches: list[tuple] = []
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def __call__(self, key, items):
        with self.lock:
            self.batches.append((key, list(items)))
            self.threads.add(threading.get_ident())
        time.sleep(self.busy_s)
        return [(key, item * 2) for item in items]


def submit_all(batcher, jobs, threads=30):
    """Submit (key, item) jobs from `threads` threads at once; returns results (or exceptions) in order."""
    barrier = threading.Barrier(min(threads, len(jobs)))

    def one(job):
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        try:
            return batcher.submit(*job)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, jobs))


def test_thirty_callers_each_get_their_own_result_in_few_batches():
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=8, window_s=0.01)
    results = submit_all(batcher, [("m", i) for i in range(30)])
    assert results == [("m", 2 * i) for i in range(30)]
    sizes = [len(items) for _, items in run.batches]
    assert sum(sizes) == 30 and max(sizes) <= 8
    # 30 at once through batches of at most 8: 4 batches at best; allow for scheduling jitter.
    assert len(sizes) <= 8, sizes
    assert sorted(item for _, items in run.batches for item in items) == list(range(30))  # each item ran once
    assert batcher.batches() == len(sizes)


def test_a_batch_never_mixes_keys():
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=8, window_s=0.01)
    jobs = [(("model", i % 3), i) for i in range(30)]
    results = submit_all(batcher, jobs)
    assert results == [(key, 2 * i) for key, i in jobs]
    for key, items in run.batches:
        assert all(("model", item % 3) == key for item in items), (key, items)


def test_max_batch_one_runs_every_item_alone():
    run = Recorder(busy_s=0.002)
    batcher = MicroBatcher(run, max_batch=1, window_s=0.01)
    results = submit_all(batcher, [("m", i) for i in range(12)], threads=12)
    assert results == [("m", 2 * i) for i in range(12)]
    assert [len(items) for _, items in run.batches] == [1] * 12


def test_requests_that_arrive_while_the_model_is_busy_run_together():
    # A lone first request runs at once (its window passes with no company); the 10 that arrive while it
    # runs must form the next batch instead of queueing one by one.
    run = Recorder(busy_s=0.2)
    batcher = MicroBatcher(run, max_batch=16, window_s=0.001)
    first = threading.Thread(target=batcher.submit, args=("m", -1))
    first.start()
    time.sleep(0.05)  # the first batch is running now
    results = submit_all(batcher, [("m", i) for i in range(10)], threads=10)
    first.join()
    assert results == [("m", 2 * i) for i in range(10)]
    assert [len(items) for _, items in run.batches] == [1, 10]


def test_a_lone_request_waits_no_longer_than_the_window():
    run = Recorder(busy_s=0.0)
    batcher = MicroBatcher(run, max_batch=8, window_s=0.05)
    started = time.perf_counter()
    assert batcher.submit("m", 4) == ("m", 8)
    waited = time.perf_counter() - started
    assert 0.04 <= waited < 2.0, waited  # it waited for company, and not for ever


def test_each_caller_gets_its_own_exception():
    # Item 13 makes the whole batch fail; the batcher runs the batch's items again one by one, so only
    # the caller of 13 sees the error, and every other caller gets its result.
    calls = []

    def run(key, items):
        calls.append(list(items))
        time.sleep(0.01)
        if 13 in items:
            raise ValueError(f"bad item {13}")
        return [item + 100 for item in items]

    batcher = MicroBatcher(run, max_batch=8, window_s=0.02)
    results = submit_all(batcher, [("m", i) for i in range(20)], threads=20)
    for i, result in enumerate(results):
        if i == 13:
            assert isinstance(result, ValueError) and "bad item 13" in str(result)
        else:
            assert result == i + 100
    assert batcher.split >= 1
    assert [13] in calls  # 13 ran alone in the end


def test_a_wrong_number_of_results_is_an_error_for_each_caller():
    batcher = MicroBatcher(lambda key, items: items[:-1], max_batch=4, window_s=0.0)
    with pytest.raises(RuntimeError, match="0 results for a batch of 1"):
        batcher.submit("m", 1)


def test_the_lead_is_handed_over_so_later_requests_never_hang():
    # Many rounds of overlapping requests: every submit returns (a lost hand-over would hang a thread).
    run = Recorder(busy_s=0.003)
    batcher = MicroBatcher(run, max_batch=4, window_s=0.001)

    def many(offset):
        return [batcher.submit("m", offset + i) for i in range(20)]

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(many, 100 * t) for t in range(8)]
        for t, future in enumerate(futures):
            assert future.result(timeout=60) == [("m", 2 * (100 * t + i)) for i in range(20)]
    assert sum(len(items) for _, items in run.batches) == 160
