"""30 simultaneous students for 60 s against a real server (loopback, bounded): no failed request,
no duplicate model load, memory that stops growing. Prints p50/p95 per endpoint."""
from __future__ import annotations

import pytest

from bench.classroom import jobs
from bench.load import model_loads_in_log, run_classroom, summary_rows
from tests.conftest import SCREENSHOTS, running_app

STUDENTS = 30
SECONDS = 60


@pytest.mark.slow
def test_thirty_students_for_a_minute():
    with running_app("load-server") as (url, proc, log_path):
        result = run_classroom(url, jobs(), students=STUDENTS, seconds=SECONDS, server_pid=proc.pid)

    lines = [f"{name:16s} n={n:4d} p50={p50:8.0f} ms p95={p95:8.0f} ms" for name, n, p50, p95 in summary_rows(result)]
    lines.append(f"peak server memory {result.peak_mb:.0f} MB; {result.total} requests; {len(result.failures)} failed")
    report = "\n".join(lines)
    (SCREENSHOTS / "load_report.txt").write_text(report + "\n" + "\n".join(result.failures[:50]))
    print("\n" + report)

    assert not result.failures, result.failures[:5]
    assert result.total >= STUDENTS, "the classroom barely got any answers"
    assert set(result.latencies) == {name for name, _ in jobs()}, "every endpoint of the mix must have answered"
    loads = model_loads_in_log(log_path)
    assert loads and all(count == 1 for count in loads.values()), f"duplicate model loads: {loads}"
    # Memory stops growing: the last quarter's peak is within 10% (+100 MB) of the peak before it.
    samples = result.rss_samples
    cut = samples[-1][0] * 0.75
    before = max(mb for t, mb in samples if t <= cut)
    after = max(mb for t, mb in samples if t > cut)
    assert after <= before * 1.10 + 100, f"memory still growing: {before:.0f} MB -> {after:.0f} MB"
