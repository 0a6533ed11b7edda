"""Teacher mode: 30 light following pages (the class bar's long-poll, `class_wait`, as classroom.js calls it).

- time from "Send to class" (the teacher's queue event) to every page seeing the push: p95 over 5 pushes x 30;
- the server's CPU while 30 pages follow and nothing changes (their requests wait on the server), in % of one core;
- the same while each of the 30 pages also reports its camera's counts every 2 s (the YOLO tab in a class:
  `class_report`, what classroom.js sends at most), and the teacher's page follows the totals.
"""
from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path

import httpx

from bench.common import row
from tests.conftest import running_app

TAB = "teacher"
CLIENTS, PUSHES, IDLE_S = 30, 5, 30.0
REPORT_EVERY_S = 2.0
PIN = "4821"


def _config(url: str) -> tuple[int, dict, dict]:
    config = httpx.get(f"{url}config", timeout=30).json()
    bar = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "class-bar")
    deps = {d.get("api_name"): (i, len(d["inputs"])) for i, d in enumerate(config["dependencies"])}
    return bar, deps, config


async def _teacher(client: httpx.AsyncClient, url: str, deps: dict, name: str, data_at: dict) -> list:
    """One teacher event through the queue, as the teacher's page sends it; returns its outputs when it is done."""
    index, n_inputs = deps[name]
    data = [data_at.get(i) for i in range(n_inputs)]
    body = {"data": data, "fn_index": index, "session_hash": "bench-teacher", "event_data": None}
    (await client.post(f"{url}gradio_api/queue/join", json=body)).raise_for_status()
    async with client.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": "bench-teacher"}) as r:
        async for line in r.aiter_lines():
            if "process_completed" in line:
                if '"success": false' in line or '"success":false' in line:
                    raise RuntimeError(f"{name} refused: {line[:300]}")
                return json.loads(line.partition(":")[2]).get("output", {}).get("data", [])


async def _follow(client, url: str, bar: int, index: int, seen: dict, stop: asyncio.Event, seats: dict) -> None:
    seat, known, session = None, None, f"bench-student-{index}"
    while not stop.is_set():
        body = {"session_hash": session, "component_id": bar, "fn_name": "class_wait",
                "data": {"seat": seat, "known": known, "lang": "ko", "follow": True, "teacher": None}}
        view = (await client.post(f"{url}gradio_api/component_server", json=body, timeout=60)).json()
        seat, known = view.get("seat"), view.get("v")
        seats[index] = seat
        if view.get("running") and not seat:
            known = None
        push = view.get("push") or {}
        if push.get("n") and push["n"] not in seen[index]:
            seen[index][push["n"]] = time.perf_counter()


async def _report(client, url: str, bar: int, index: int, seats: dict, stop: asyncio.Event) -> None:
    """A page's camera counts every REPORT_EVERY_S (changing, as a moving camera's do), as classroom.js sends them."""
    k = 0
    while not stop.is_set():
        k += 1
        numbers = {"camera": 1, "counts": {"0": 1 + (index + k) % 3, "2": k % 2}}
        body = {"session_hash": f"bench-student-{index}", "component_id": bar, "fn_name": "class_report",
                "data": {"seat": seats.get(index), "tab": "yolo_detect", "numbers": numbers}}
        await client.post(f"{url}gradio_api/component_server", json=body, timeout=60)
        await asyncio.sleep(REPORT_EVERY_S)


async def _teacher_view(client, url: str, bar: int, key_holder: dict, stop: asyncio.Event) -> None:
    """The teacher's projector page: it follows every change of the totals, at most twice a second."""
    known = None
    while not stop.is_set():
        body = {"session_hash": "bench-teacher", "component_id": bar, "fn_name": "class_wait",
                "data": {"known": known, "lang": "ko", "teacher": key_holder.get("key")}}
        known = (await client.post(f"{url}gradio_api/component_server", json=body, timeout=60)).json().get("v")
        await asyncio.sleep(0.5)


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks of 1/100 s


async def _cpu_share(pid: int, seconds: float) -> float:
    before, started = _cpu_s(pid), time.perf_counter()
    await asyncio.sleep(seconds)
    return (_cpu_s(pid) - before) / (time.perf_counter() - started)


async def _settled(pid: int, limit_s: float = 120.0) -> None:
    """Wait until the server is quiet (its background import of the heavy libraries is over)."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s and await _cpu_share(pid, 5.0) > 0.02:
        pass


async def _scenario(url: str, pid: int) -> dict:
    bar, deps, _ = _config(url)
    await _settled(pid)
    alone_cpu = await _cpu_share(pid, IDLE_S)
    limits = httpx.Limits(max_connections=CLIENTS + 10)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        key_holder = {"key": (await _teacher(client, url, deps, "class_unlock", {1: PIN}))[1]}
        await _teacher(client, url, deps, "class_start", {})
        stop, seen, seats = asyncio.Event(), {i: {} for i in range(CLIENTS)}, {}
        followers = [asyncio.create_task(_follow(client, url, bar, i, seen, stop, seats)) for i in range(CLIENTS)]
        await asyncio.sleep(3)
        idle_cpu = await _cpu_share(pid, IDLE_S)
        delays = []
        for n in range(1, PUSHES + 1):
            sent = time.perf_counter()
            await _teacher(client, url, deps, "class_push", {1: "sliding_window", 2 + 2: 5, 2 + 3: 2})
            while sum(n in s for s in seen.values()) < CLIENTS and time.perf_counter() - sent < 10:
                await asyncio.sleep(0.01)
            delays += [s[n] - sent for s in seen.values() if n in s]
            await asyncio.sleep(0.5)
        reporting = asyncio.Event()
        reporters = [asyncio.create_task(_report(client, url, bar, i, seats, reporting)) for i in range(CLIENTS)]
        reporters.append(asyncio.create_task(_teacher_view(client, url, bar, key_holder, reporting)))
        await asyncio.sleep(3)
        report_cpu = await _cpu_share(pid, IDLE_S)
        reporting.set()
        await asyncio.wait(reporters, timeout=30)
        stop.set()
        await _teacher(client, url, deps, "class_end", {})
        await asyncio.wait(followers, timeout=30)
    return {"delays": delays, "idle_cpu": idle_cpu, "alone_cpu": alone_cpu, "report_cpu": report_cpu}


def rows() -> list[dict]:
    with running_app("bench-teacher", args=("--teacher-pin", PIN, "--no-warm-up")) as (url, proc, _):
        result = asyncio.run(_scenario(url, proc.pid))
    delays = sorted(result["delays"])
    p95 = delays[max(0, int(len(delays) * 0.95) - 1)] * 1000 if delays else float("nan")
    return [
        row(TAB, f"Send to class -> all {CLIENTS} following pages see it, p95 ({len(delays)} deliveries)", p95, "ms",
            "<= 1000 ms"),
        row(TAB, "Send to class -> page sees it, median", statistics.median(delays) * 1000 if delays else float("nan"),
            "ms"),
        row(TAB, f"server CPU while {CLIENTS} pages follow and nothing changes", result["idle_cpu"] * 100,
            "% of one core", "<= 2 %", baseline=result["alone_cpu"] * 100,
            baseline_what="the same server with no page open"),
        row(TAB, f"server CPU while {CLIENTS} pages report their camera counts every {REPORT_EVERY_S:.0f} s",
            result["report_cpu"] * 100, "% of one core", baseline=result["idle_cpu"] * 100,
            baseline_what=f"the same {CLIENTS} pages following, no reports"),
    ]


if __name__ == "__main__":
    print(json.dumps(rows(), indent=1))
