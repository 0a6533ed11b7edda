"""A classroom of simulated students: N gradio_client sessions calling a mix of endpoints for T seconds.

Loopback only, bounded in count and time. Used by tests/test_load.py (asserts) and bench/bench_load.py
(prints p50/p95 per endpoint and peak memory).
"""
from __future__ import annotations

import random
import re
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psutil

Job = tuple[str, Callable[[random.Random], dict]]  # (api_name, rng -> keyword arguments)


@dataclass
class LoadResult:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    rss_samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MB)

    def percentile(self, api_name: str, q: float) -> float:
        values = sorted(self.latencies.get(api_name, []))
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def peak_mb(self) -> float:
        return max((mb for _, mb in self.rss_samples), default=float("nan"))


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    try:
        proc = psutil.Process(pid)
        procs = [proc] + proc.children(recursive=True)
        return sum(p.memory_info().rss for p in procs if p.is_running()) / 1e6
    except psutil.Error:
        return float("nan")


def run_classroom(url: str, jobs: list[Job], students: int = 30, seconds: float = 60.0, server_pid: int | None = None,
                  request_timeout: float = 300.0, seed: int = 0) -> LoadResult:
    """Each student opens its own session and keeps calling random jobs until time is up."""
    from gradio_client import Client

    result = LoadResult()
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + seconds
    stop_sampling = threading.Event()

    def sample_memory():
        while not stop_sampling.is_set() and server_pid is not None:
            result.rss_samples.append((time.perf_counter() - started, tree_rss_mb(server_pid)))
            stop_sampling.wait(1.0)

    def student(index: int):
        rng = random.Random(seed * 1000 + index)
        try:
            client = Client(url, verbose=False, download_files=False, analytics_enabled=False,
                            httpx_kwargs={"timeout": request_timeout})
        except Exception as exc:
            with lock:
                result.failures.append(f"student {index}: connect: {exc!r}"[:300])
            return
        while time.perf_counter() < deadline:
            api_name, make_args = rng.choice(jobs)
            t0 = time.perf_counter()
            try:
                client.predict(api_name=f"/{api_name}", **make_args(rng))
            except Exception as exc:
                with lock:
                    result.failures.append(f"{api_name}: {exc!r}"[:300])
                continue
            with lock:
                result.latencies.setdefault(api_name, []).append(time.perf_counter() - t0)

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=student, args=(i,), daemon=True) for i in range(students)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=seconds + request_timeout + 30)
    stop_sampling.set()
    sampler.join(timeout=5)
    return result


def model_loads_in_log(log_path: Path) -> dict[str, int]:
    """How many times the server log says each (model, device, dtype, tiny) was loaded."""
    counts: dict[str, int] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        match = re.search(r"dlclass\.models loaded (\S+) on (\S+) \((\S+), tiny=(\w+)\)", line)
        if match:
            key = " ".join(match.groups())
            counts[key] = counts.get(key, 0) + 1
    return counts


def summary_rows(result: LoadResult) -> list[tuple[str, int, float, float]]:
    return [(name, len(values), statistics.median(values) * 1000, result.percentile(name, 95) * 1000)
            for name, values in sorted(result.latencies.items())]
