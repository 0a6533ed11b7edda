"""App-level rows: cold start to HTTP 200 on / and the server's memory."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil

from bench.common import row
from tests.conftest import ROOT, TEST_ENV, free_port, wait_for_http


def rows() -> list[dict]:
    out = []
    port = free_port()
    env = {**os.environ, **TEST_ENV}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", 120, proc)
        out.append(row("app", "cold start to HTTP 200 on /", (time.perf_counter() - started) * 1000, "ms", "<= 10000 ms"))
        rss = psutil.Process(proc.pid).memory_info().rss / 1e6
        out.append(row("app", "server memory after start (RSS)", rss, "MB"))
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return out
