"""Load rows: 30 simulated students for 60 s (test zoo where real weights are missing): p50/p95 per endpoint, peak memory."""
from __future__ import annotations

from bench.classroom import jobs
from bench.common import row
from bench.load import run_classroom, summary_rows
from tests.conftest import running_app


def rows() -> list[dict]:
    with running_app("bench-load") as (url, proc, _):
        result = run_classroom(url, jobs(), students=30, seconds=60, server_pid=proc.pid)
    out = []
    for name, n, p50, p95 in summary_rows(result):
        out.append(row("load (30 students)", f"{name} p50 (n={n})", p50))
        out.append(row("load (30 students)", f"{name} p95", p95))
    out.append(row("load (30 students)", f"failed requests of {result.total}", len(result.failures), "req", "0"))
    out.append(row("load (30 students)", "peak server memory (RSS)", result.peak_mb, "MB"))
    return out
