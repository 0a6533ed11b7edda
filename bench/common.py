"""Helpers for bench modules: median timing and a row format the runner prints as one table."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def median_ms(fn: Callable[[], object], runs: int = 7, warmup: int = 2) -> float:
    """Median wall time of fn() in milliseconds, after warm-up calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def single_thread_cpu_ms(fn: Callable[[], object], runs: int = 5) -> float:
    """Median process CPU time of fn() with one torch thread: a figure that other processes' load hardly
    changes (wall time on a shared 2-core machine can be several times the quiet figure)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fn()
        samples = []
        for _ in range(runs):
            started = time.process_time()
            fn()
            samples.append((time.process_time() - started) * 1000)
        return statistics.median(samples)
    finally:
        torch.set_num_threads(threads)


def row(tab: str, what: str, value: float, unit: str = "ms", target: str = "", baseline: float | None = None,
        baseline_what: str = "") -> dict:
    """One line of the bench table. `baseline` is measured in the same run; ratio = baseline / value."""
    return {"tab": tab, "what": what, "value": value, "unit": unit, "target": target,
            "baseline": baseline, "baseline_what": baseline_what,
            "ratio": (baseline / value) if baseline and value else None}
