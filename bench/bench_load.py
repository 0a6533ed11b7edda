"""Load rows: 30 simulated students for 60 s (test zoo where real weights are missing): p50/p95 per endpoint, peak memory."""
from __future__ import annotations

import subprocess

from bench.classroom import jobs
from bench.common import row
from bench.load import run_classroom, summary_rows
from tests.conftest import SCREENSHOTS, free_port, start_app, wait_for_http


def rows() -> list[dict]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = start_app(port, SCREENSHOTS / f"bench-load-{port}.log")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", 120, proc)
        result = run_classroom(f"http://127.0.0.1:{port}/", jobs(), students=30, seconds=60, server_pid=proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    out = []
    for name, n, p50, p95 in summary_rows(result):
        out.append(row("load (30 students)", f"{name} p50 (n={n})", p50))
        out.append(row("load (30 students)", f"{name} p95", p95))
    out.append(row("load (30 students)", f"failed requests of {result.total}", len(result.failures), "req", "0"))
    out.append(row("load (30 students)", "peak server memory (RSS)", result.peak_mb, "MB"))
    return out
