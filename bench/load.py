"""A class of simulated students, as a browser uses the app: every output picture is downloaded and decoded.

Three kinds of load, loopback only, bounded in count and time:
- `burst`: N students press a button at the same moment (a barrier), each with its own arguments;
- `run_classroom`: N students keep calling a random mix of endpoints for T seconds (the 60-s class);
- `webcams`: N webcams streaming frames to the server path at a fixed rate, speaking Gradio's stream
  protocol (queue/join, then /stream/<event_id> per frame, answers read from the event stream) without a
  browser, so that 10 webcams cost the load generator little.

Students are `gradio_client.Client`s with `download_files` on: a call's time includes fetching every
output file, and each picture is opened and fully decoded (a truncated picture counts as incomplete).
The clients connect before the clock starts. The generator's own CPU time is measured and reported,
because it shares the machine's 2 cores with the server.
"""
from __future__ import annotations

import json
import random
import re
import statistics
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
import psutil
from PIL import Image

# webcams on the server path live in bench/webcams.py; callers import them from here too
from bench.webcams import WebcamResult, frame_payload, jpeg_frames, webcams  # noqa: F401

Job = tuple[str, Callable[[random.Random], dict]]  # (api_name, rng -> keyword arguments)


@dataclass
class LoadResult:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)  # downloaded files that did not decode whole
    files_checked: int = 0
    rss_samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MB)
    generator_cpu_s: float = 0.0  # CPU seconds the load generator itself used
    wall_s: float = 0.0
    received: list = field(default_factory=list, repr=False)  # answers whose files are checked after the clock
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check_received(self) -> None:
        """Decode every file of every answer, once the clock has stopped: a browser decodes on the student's
        own computer, so decoding here, in the generator that shares the server's 2 cores and one GIL,
        would slow the other students' requests and count the generator's work as the server's."""
        received, self.received = self.received, []
        for answer in received:
            check_files(answer, self)

    def add(self, api_name: str, seconds: float) -> None:
        with self.lock:
            self.latencies.setdefault(api_name, []).append(seconds)

    def fail(self, text: str) -> None:
        with self.lock:
            self.failures.append(text[:300])

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

    def summary(self) -> list[tuple[str, int, float, float, float]]:
        """(api_name, n, p50 ms, p95 ms, max ms) per endpoint."""
        return [(name, len(v), statistics.median(v) * 1000, self.percentile(name, 95) * 1000, max(v) * 1000)
                for name, v in sorted(self.latencies.items())]


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    try:
        proc = psutil.Process(pid)
        procs = [proc] + proc.children(recursive=True)
        return sum(p.memory_info().rss for p in procs if p.is_running()) / 1e6
    except psutil.Error:
        return float("nan")


def _own_cpu() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


# ---------------------------------------------------------------- what a browser does with an answer


def check_files(value: Any, result: LoadResult) -> None:
    """Open every downloaded file in an answer; pictures are decoded to their last pixel."""
    if isinstance(value, dict):
        for v in value.values():
            check_files(v, result)
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            check_files(v, result)
        return
    if not isinstance(value, str) or len(value) > 4096 or "/" not in value:
        return
    path = Path(value)
    try:
        if not path.is_file():
            return
    except OSError:  # text that merely contains a slash (an HTML answer), not a file name
        return
    with result.lock:
        result.files_checked += 1
    try:
        if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"):
            with Image.open(path) as img:
                img.load()  # a truncated file raises here
        elif path.stat().st_size == 0:
            raise OSError("empty file")
    except Exception as exc:
        with result.lock:
            result.incomplete.append(f"{path.name}: {exc!r}"[:200])


def student(url: str, lang: str = "ko", downloads: Path | None = None):
    from gradio_client import Client

    folder = downloads or Path(tempfile.mkdtemp(prefix="dlclass-student-"))
    return Client(url, verbose=False, download_files=str(folder), analytics_enabled=False,
                  headers={"Accept-Language": lang}, httpx_kwargs={"timeout": 300})


def _call(client, api_name: str, kwargs: dict, result: LoadResult) -> None:
    started = time.perf_counter()
    try:
        if isinstance(client, BrowserClient):
            answer = client.predict(api_name, **kwargs)
        else:
            answer = client.predict(api_name=f"/{api_name}", **kwargs)
    except Exception as exc:
        result.fail(f"{api_name}: {exc!r}")
        return
    result.add(api_name, time.perf_counter() - started)  # the answer and every file it names, downloaded
    with result.lock:
        result.received.append(answer)


class BrowserClient:
    """What a student's browser does, without a browser: upload the photo, join the queue, read the answer
    from the event stream, then fetch every file the answer names, six at a time as a browser does (every
    picture is decoded once the scenario's clock stops, see `LoadResult.check_received`). Light enough to run 30 of in this process (plain httpx, one session per student),
    so that the figures are the server's, not the load generator's.

    `gradio_client` does the same protocol with much more work per call in the caller (measured here:
    about 250 ms of a cached call's 280 ms were spent in the client), which the 2 shared cores pay for."""

    def __init__(self, url: str, lang: str = "ko", api: dict | None = None):
        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=300, headers={"Accept-Language": lang},
                                 limits=httpx.Limits(max_connections=8, max_keepalive_connections=8))
        self.session = uuid.uuid4().hex[:11]
        self.api = api or endpoints(url)
        self.uploads: dict[str, dict] = {}

    def _upload(self, path: str) -> dict:
        if path not in self.uploads:
            with open(path, "rb") as handle:
                response = self.http.post(f"{self.url}/gradio_api/upload",
                                          files={"files": (Path(path).name, handle, "application/octet-stream")})
            response.raise_for_status()
            self.uploads[path] = {"path": response.json()[0], "orig_name": Path(path).name,
                                  "meta": {"_type": "gradio.FileData"}}
        return self.uploads[path]

    def _value(self, value):
        if isinstance(value, dict) and value.get("meta", {}).get("_type") == "gradio.FileData" and value.get("path"):
            return self._upload(value["path"])  # gradio_client.handle_file(...) -> upload, as the page does
        return value

    def open_page(self) -> list[str]:
        """What a browser does when a student opens the page: fetch it and its config, then run the page's
        load events (the first tab's worked example) with the components' starting values; returns the files."""
        self.http.get(self.url + "/").raise_for_status()  # the page carries its config inline
        files = []
        for fn_index, data in self.api["__load__"]:
            files += self._run(fn_index, data, "load")
        return files

    def predict(self, api_name: str, **kwargs):
        fn_index, parameters = self.api[api_name]
        data = [self._value(kwargs[name]) if name is not None and name in kwargs else default
                for name, default in parameters]
        return self._run(fn_index, data, api_name)

    def _run(self, fn_index: int, data: list, what: str) -> list[str]:
        joined = self.http.post(f"{self.url}/gradio_api/queue/join",
                                json={"data": data, "fn_index": fn_index, "session_hash": self.session,
                                      "event_data": None, "trigger_id": None})
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        answer = None
        with self.http.stream("GET", f"{self.url}/gradio_api/queue/data",
                              params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                    answer = message
                    break
        if answer is None or not answer.get("success"):
            raise RuntimeError(f"{what}: {(answer or {}).get('output')}"[:300])
        urls = []
        _file_urls(answer["output"].get("data"), urls)
        folder = Path(tempfile.mkdtemp(prefix="dlclass-browser-"))

        def fetch(item):
            index, address = item
            response = self.http.get(address if address.startswith("http") else self.url + address)
            response.raise_for_status()
            target = folder / f"{index}{Path(address.split('?')[0]).suffix or '.bin'}"
            target.write_bytes(response.content)
            return str(target)

        with ThreadPoolExecutor(6) as pool:
            return list(pool.map(fetch, enumerate(urls)))


def _file_urls(value, found: list[str]) -> None:
    if isinstance(value, dict):
        address = value.get("url")
        if isinstance(address, str) and "/file=" in address:
            found.append(address)
            return
        for v in value.values():
            _file_urls(v, found)
    elif isinstance(value, list):
        for v in value:
            _file_urls(v, found)


def endpoints(url: str) -> dict:
    """{api_name: (fn_index, [(parameter name, default)])} from the app's own API description, and under
    "__load__" the page's load events as [(fn_index, data)]."""
    base = url.rstrip("/")
    info = httpx.get(f"{base}/gradio_api/info", timeout=60).json()["named_endpoints"]
    config = httpx.get(f"{base}/config", timeout=60).json()
    index = {d.get("api_name"): d["id"] for d in config["dependencies"] if d.get("api_name")}
    kinds = {c["id"]: c.get("type") for c in config["components"]}
    inputs = {d["id"]: d["inputs"] for d in config["dependencies"]}

    def parameters(fn_index: int, spec: dict) -> list:
        """(name, default) per input; a gr.State input (absent from the API description: its value stays on
        the server) is sent as None, as the page sends it."""
        described = iter(spec["parameters"])
        out = []
        for component in inputs[fn_index]:
            if kinds.get(component) == "state":
                out.append((None, None))
            else:
                p = next(described)
                out.append((p["parameter_name"], p.get("parameter_default")))
        return out

    api = {name.lstrip("/"): (index[name.lstrip("/")], parameters(index[name.lstrip("/")], spec))
           for name, spec in info.items() if name.lstrip("/") in index}
    # the page's load events, with the starting values the page sends (gr.State values stay on the server)
    values = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
    api["__load__"] = [(d["id"], [values.get(i) for i in d["inputs"]]) for d in config["dependencies"]
                       if d.get("backend_fn") and any(t[1] == "load" for t in d.get("targets", []))]
    return api


def browsers(url: str, count: int, lang: str = "ko", opened: bool = True) -> list[BrowserClient]:
    """`count` students; with `opened`, each has opened the page already (its session exists, the first
    tab's example is on its screen), as a class has before the teacher says "now press the button"."""
    api = endpoints(url)
    clients = [BrowserClient(url, lang, api) for _ in range(count)]
    if opened:
        for client in clients:
            client.open_page()
    return clients


def at_once(actions: list[Callable[[LoadResult], None]]) -> LoadResult:
    """Run every action in its own thread, all released at the same moment (a barrier); the clock and the
    generator's CPU count start there."""
    result = LoadResult()
    barrier = threading.Barrier(len(actions) + 1)

    def go(action):
        barrier.wait()
        action(result)

    threads = [threading.Thread(target=go, args=(action,), daemon=True) for action in actions]
    for thread in threads:
        thread.start()
    cpu, started = _own_cpu(), time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join(timeout=600)
    result.wall_s = time.perf_counter() - started
    result.generator_cpu_s = _own_cpu() - cpu
    result.check_received()
    return result


def open_pages(clients: list[BrowserClient]) -> LoadResult:
    """Every student opens the page at the same moment (the start of a lesson)."""
    def opening(client):
        def action(result: LoadResult) -> None:
            started = time.perf_counter()
            try:
                files = client.open_page()
            except Exception as exc:
                result.fail(f"open page: {exc!r}")
                return
            result.add("open the page", time.perf_counter() - started)
            with result.lock:
                result.received.append(files)
        return action

    return at_once([opening(client) for client in clients])


def burst(url: str, calls: list[tuple[str, dict]], lang: str = "ko", clients: list | None = None) -> LoadResult:
    """Every (api_name, kwargs) of `calls` sent by its own student at the same moment."""
    clients = clients or [student(url, lang) for _ in calls]
    return at_once([lambda result, c=c, a=a, k=k: _call(c, a, k, result) for c, (a, k) in zip(clients, calls)])


def run_classroom(url: str, jobs: list[Job], students: int = 30, seconds: float = 60.0,
                  server_pid: int | None = None, seed: int = 0, clients: list | None = None) -> LoadResult:
    """Each student keeps calling random jobs until time is up (every answer downloaded and checked)."""
    result = LoadResult()
    clients = clients or [student(url, "ko" if i % 3 else "en") for i in range(students)]
    stop_sampling = threading.Event()
    started = time.perf_counter()
    deadline = started + seconds

    def sample_memory():
        while not stop_sampling.is_set() and server_pid is not None:
            result.rss_samples.append((time.perf_counter() - started, tree_rss_mb(server_pid)))
            stop_sampling.wait(1.0)

    def work(index: int):
        rng = random.Random(seed * 1000 + index)
        while time.perf_counter() < deadline:
            api_name, make_args = rng.choice(jobs)
            _call(clients[index], api_name, make_args(rng), result)

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    cpu = _own_cpu()
    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(students)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 330)
    result.wall_s = time.perf_counter() - started
    result.generator_cpu_s = _own_cpu() - cpu
    stop_sampling.set()
    sampler.join(timeout=5)
    result.check_received()
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
