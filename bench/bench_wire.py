"""What the app costs the school Wi-Fi and the server (issue 22), in one run:

- the HTML on the wire (raw and gzip) and a page open recorded in Chromium (requests, bytes, Cache-Control);
- 30 page opens at once, every page file fetched (p50/p95, server CPU), against the same opens without the
  rendered-page cache (core/server.py's PageCache turned off through its switch) in the same run;
- the webcam's first Start and a second Start (bytes of model and runtime) in Chromium with its fake camera;
- 30 identical cached clicks of `conv_steps` and `cnn_features` (with its photo), every output downloaded:
  server CPU per click, read from the server's own process, against a bare Gradio app's click in the same run.

    python -m bench.run --only wire
"""
from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.common import row

MODEL_OR_RUNTIME = ("onnxruntime-web", ".onnx", ".wasm")


# ---------------------------------------------------------------- what a browser moved, request by request


@dataclass
class Seen:
    url: str
    method: str
    status: int = 0
    headers: dict = field(default_factory=dict)
    bytes: int = 0  # on the wire: headers and the encoded body
    from_cache: bool = False


class Recorder:
    """Every request of a Playwright page (its workers included) with its answer and its bytes on the wire
    (`request.sizes()`: the encoded body and the headers, as Chromium received them)."""

    def __init__(self, page):
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        page.context.on("requestfinished", self._finished)
        page.context.on("requestfailed", lambda request: self._add(request, None))

    def _finished(self, request) -> None:
        self._add(request, request.response())

    def _add(self, request, response) -> None:
        seen = Seen(request.url, request.method)
        if response is not None:
            seen.status, seen.headers = response.status, response.headers
            seen.from_cache = response.from_service_worker or request.redirected_from is not None
            try:
                sizes = request.sizes()
                seen.bytes = sizes["responseBodySize"] + sizes["responseHeadersSize"]
            except Exception:  # a request the browser answered from its cache has no sizes
                seen.bytes = 0
        with self.lock:
            self.seen.append(seen)

    def mark(self) -> int:
        with self.lock:
            return len(self.seen)

    def since(self, mark: int = 0) -> list[Seen]:
        with self.lock:
            return list(self.seen[mark:])

    def settle(self, page, quiet_s: float = 3.0, timeout_s: float = 240.0) -> None:
        """Wait until no request has finished for `quiet_s` (the page's event stream never "finishes", so
        Playwright's networkidle may never come while a worked example is on its way)."""
        deadline = time.monotonic() + timeout_s
        count, since = self.mark(), time.monotonic()
        while time.monotonic() < deadline:
            page.wait_for_timeout(250)
            if self.mark() != count:
                count, since = self.mark(), time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return


def wire_bytes(seen: list[Seen], only=None) -> int:
    return sum(s.bytes for s in seen if only is None or any(part in s.url for part in only))


def wire_problems(seen: list[Seen], app_url: str) -> list[str]:
    """What the browser test forbids on a page open: the HTML uncompressed, a cacheable answer (GET 200)
    without Cache-Control, a request to another host than the app's."""
    host = urlsplit(app_url).netloc
    problems = []
    for s in seen:
        parts = urlsplit(s.url)
        if parts.scheme in ("data", "blob"):
            continue
        if parts.netloc != host:
            problems.append(f"another host: {s.url[:120]}")
        if s.method == "GET" and s.status == 200 and "cache-control" not in s.headers:
            problems.append(f"no Cache-Control: {s.url[:120]}")
        if parts.path in ("", "/") and s.method == "GET" and s.status == 200 and \
                s.headers.get("content-encoding") not in ("gzip", "br"):
            problems.append(f"the HTML is sent uncompressed ({s.headers.get('content-encoding')})")
    return problems


# ---------------------------------------------------------------- Chromium: a page open and the webcam


def record_in_chromium(url: str) -> dict:
    """A page open (ko, 1366x768) and the webcam's first and second Start, recorded in Chromium."""
    import tempfile
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    from tests.browser.test_yolo_detect_browser import open_webcam_tab, write_y4m
    from tests.conftest import CHROMIUM, CHROMIUM_ARGS, open_tab

    clip = write_y4m(Path(tempfile.mkdtemp(prefix="dlclass-wire-")) / "camera.y4m")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}"])
        page, recorder = open_recorded(browser, url)
        opened = recorder.since(0)
        open_tab(page, "yolo_detect")
        open_webcam_tab(page)
        page.wait_for_selector("#yolo-live [data-role=start]:not([disabled])")
        recorder.settle(page)
        starts = []
        for _ in range(2):
            mark = recorder.mark()
            frames = page.evaluate("window.__dlclassYoloDebug ? window.__dlclassYoloDebug.frames : 0")
            page.locator("#yolo-live [data-role=start]").click()
            page.wait_for_function(f"window.__dlclassYoloDebug && window.__dlclassYoloDebug.frames >= {frames + 3}",
                                   timeout=300_000)
            starts.append(recorder.since(mark))
            page.locator("#yolo-live [data-role=stop]").click()
        browser.close()
    return {"opened": opened, "starts": starts}


def open_recorded(browser, url: str):
    """A Korean page at 1366x768 (camera allowed), opened with a Recorder from its first request; (page, recorder)."""
    context = browser.new_context(locale="ko-KR", viewport={"width": 1366, "height": 768},
                                  extra_http_headers={"Accept-Language": "ko-KR"})
    context.grant_permissions(["camera"])
    page = context.new_page()
    page.set_default_timeout(120_000)
    recorder = Recorder(page)
    page.goto(url)
    page.wait_for_selector("#app-header")
    recorder.settle(page)
    return page, recorder


def page_files(opened: list[Seen], url: str) -> list[str]:
    """The files a browser fetched on a page open (GET 200 from the app), the page itself and streams aside."""
    host = urlsplit(url).netloc
    return [s.url for s in opened if s.method == "GET" and s.status == 200 and urlsplit(s.url).netloc == host
            and urlsplit(s.url).path not in ("", "/") and "/queue/data" not in s.url and "heartbeat" not in s.url]


# ---------------------------------------------------------------- plain HTTP: the HTML and 30 opens at once


def html_bytes(url: str) -> tuple[int, int]:
    """(raw, on the wire with gzip) bytes of the page."""
    import httpx

    raw = len(httpx.get(url, headers={"Accept-Encoding": "identity"}, timeout=60).content)
    with httpx.stream("GET", url, headers={"Accept-Encoding": "gzip"}, timeout=60) as response:
        response.read()
        wire = response.num_bytes_downloaded
    return raw, wire


def server_cpu(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def wait_until_idle(pid: int, below: float = 0.05, timeout: float = 300.0) -> None:
    """Until the server uses less than `below` of a core for a second (the warm-up and sweeps done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = server_cpu(pid)
        time.sleep(1.0)
        if server_cpu(pid) - before < below:
            return


def opens_at_once(url: str, files: list[str], pid: int, fresh: bool, n: int = 30) -> tuple[float, float, float, int]:
    """n students open the page at the same moment: the page, its load events and every page file (six at a
    time, as a browser does). `fresh` sends a header that keeps the page out of the server's page cache (the
    baseline: Gradio's own render for every visitor). Returns (p50 s, p95 s, server CPU s, failures)."""
    from concurrent.futures import ThreadPoolExecutor

    from bench.load import BrowserClient, at_once, endpoints

    api = endpoints(url)
    clients = [BrowserClient(url, "ko", api) for _ in range(n)]
    extra = {"Authorization": "Bearer bench-baseline"} if fresh else {}

    def opening(client):
        def action(result) -> None:
            started = time.perf_counter()
            try:
                client.http.get(url, headers={"Accept-Encoding": "gzip", **extra}).raise_for_status()
                with ThreadPoolExecutor(6) as pool:
                    for answer in pool.map(lambda f: client.http.get(f, headers={"Accept-Encoding": "gzip"}), files):
                        answer.raise_for_status()
                for fn_index, data in client.api["__load__"]:
                    client._run(fn_index, data, "load")
            except Exception as exc:
                result.fail(f"open: {exc!r}")
                return
            result.add("open", time.perf_counter() - started)
        return action

    wait_until_idle(pid)
    before = server_cpu(pid)
    result = at_once([opening(c) for c in clients])
    cpu = server_cpu(pid) - before
    return (*p50_p95(result.latencies.get("open", [])), cpu, len(result.failures))


def p50_p95(samples: list[float]) -> tuple[float, float]:
    if not samples:
        return float("nan"), float("nan")
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered), math.ceil(0.95 * len(ordered))) - 1]


# ---------------------------------------------------------------- 30 identical cached clicks


BARE_APP = """
import sys, gradio as gr
from pathlib import Path
pictures = sorted(Path(sys.argv[2]).glob("*.jpg"))[:3]
gr.set_static_paths([sys.argv[2]])
with gr.Blocks() as demo:
    text, button = gr.Textbox(), gr.Button()
    shown = [gr.Image(type="filepath") for _ in pictures]
    button.click(lambda t: [str(p) for p in pictures], text, shown, api_name="pictures")
demo.queue().launch(server_port=int(sys.argv[1]), server_name="127.0.0.1", prevent_thread_lock=False)
"""


def identical_clicks(url: str, pid: int, api_name: str, kwargs: dict, n: int = 30) -> tuple[float, float, int, int]:
    """n students with the page open press the same button at the same moment, after one press that filled the
    result cache; every output file downloaded. Returns (server CPU ms per click, p95 s, failures, files)."""
    from bench.load import browsers, burst

    clients = browsers(url, n)
    burst(url, [(api_name, kwargs)], clients=clients[:1])  # the answer is cached from here on
    wait_until_idle(pid)
    before = server_cpu(pid)
    result = burst(url, [(api_name, kwargs)] * n, clients=clients)
    cpu_ms = (server_cpu(pid) - before) * 1000 / n
    return cpu_ms, p50_p95(result.latencies.get(api_name, []))[1], len(result.failures) + len(result.incomplete), \
        result.files_checked


def bare_gradio_click(port: int) -> float:
    """Server CPU ms per click of a bare Gradio app whose answer is three pictures from a static folder."""
    from bench.classroom import EXAMPLES
    from tests.conftest import wait_for_http

    proc = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port), str(EXAMPLES[0].parent)],
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_http(url, 120, proc)
        return identical_clicks(url, proc.pid, "pictures", {"t": "x"})[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ---------------------------------------------------------------- the table


def rows() -> list[dict]:
    from bench import classroom
    from tests.conftest import running_app, wait_for_log

    tab, out = "wire", []
    with running_app("bench-wire") as (url, proc, log_path):
        wait_for_log(log_path, "warm-up:", 600)
        raw, wire = html_bytes(url)
        out.append(row(tab, "HTML on the wire, gzip (raw = baseline)", wire / 1024, "kB", "≤ 150 kB",
                       baseline=raw / 1024, baseline_what="raw"))
        seen = record_in_chromium(url)
        opened = seen["opened"]
        out.append(row(tab, f"page open in Chromium: {len(opened)} requests, bytes", wire_bytes(opened) / 1024, "kB"))
        out.append(row(tab, "page open: problems (uncompressed HTML, no Cache-Control, other hosts)",
                       len(wire_problems(opened, url)), "", "0"))
        first, second = seen["starts"]
        out.append(row(tab, "webcam first Start: bytes on the wire (model + runtime)",
                       wire_bytes(first, MODEL_OR_RUNTIME) / 2**20, "MB", "≤ 8 MB"))
        out.append(row(tab, "webcam first Start: every byte", wire_bytes(first) / 2**20, "MB"))
        out.append(row(tab, "webcam second Start: bytes of model + runtime", wire_bytes(second, MODEL_OR_RUNTIME),
                       "B", "0"))
        files = page_files(opened, url)
        p50, p95, cpu, failed = opens_at_once(url, files, proc.pid, fresh=True)
        c50, c95, ccpu, cfailed = opens_at_once(url, files, proc.pid, fresh=False)
        what = f"30 opens at once, {len(files)} page files each"
        out.append(row(tab, f"{what}: p50", c50 * 1000, baseline=p50 * 1000, baseline_what="rendered per visitor"))
        out.append(row(tab, f"{what}: p95", c95 * 1000, target="≤ 1500 ms", baseline=p95 * 1000,
                       baseline_what="rendered per visitor"))
        out.append(row(tab, f"{what}: server CPU", ccpu, "s", baseline=cpu, baseline_what="rendered per visitor"))
        out.append(row(tab, f"{what}: failed", cfailed + failed, "", "0"))
        bare = bare_gradio_click(7934)  # a port of this bench's own
        for api_name, target in (("conv_steps", "≤ 20 ms"), ("cnn_features", "≤ 30 ms")):
            kwargs = classroom.first_examples()[api_name]
            ms, p95, failed, n_files = identical_clicks(url, proc.pid, api_name, kwargs)
            out.append(row(tab, f"30 identical cached {api_name}: server CPU per click ({n_files} files)", ms,
                           target=target, baseline=bare, baseline_what="bare Gradio, 3 pictures"))
            out.append(row(tab, f"30 identical cached {api_name}: p95", p95 * 1000))
            out.append(row(tab, f"30 identical cached {api_name}: failed", failed, "", "0"))
    return out
