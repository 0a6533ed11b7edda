"""YOLO tab: per-frame cost of the tab's function (`yolo_detect`: load_image, predict with the raw-candidate
hook, tracking, the annotated frame, grid and NMS panels) against plain `YOLO.predict` on the same
640x480 frames, in the same run (target: ratio >= 0.9), for the nano model at imgsz 320 and 640.

The two are timed interleaved, frame by frame, so both see the same machine load. The model is the test
zoo's random-init YOLO11n built from ultralytics' yaml (the real architecture: the compute is the same).

The webcam view runs YOLO in the browser (onnxruntime-web, WASM in headless Chromium here); its rows start the
app and Chromium with the fake camera: frames per second inside the page at imgsz 320 and 640 (reported, not
asserted: a student's laptop is faster, and WebGPU much faster), and the server process's CPU (psutil, % of one
core) while 4 pages run the webcam view in the browser (target < 10%), against 4 pages streaming to the server
path in the same run. Set DLCLASS_BENCH_LIVE=0 to skip them (they take a few minutes on 2 cores).

Set DLCLASS_BENCH_BROWSER=1 to add the frame rate the browser receives from the server path's streaming webcam.
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.common import row

TAB = "yolo_detect"
ROOT = Path(__file__).resolve().parent.parent


def _frames(n: int = 6) -> list[np.ndarray]:
    """640x480 webcam-like frames: the example photos, shifted a little from frame to frame."""
    photos = [np.asarray(Image.open(p).convert("RGB").resize((640, 480))) for p in sorted((ROOT / "assets" / "examples").glob("*.jpg"))]
    return [np.roll(photos[i % len(photos)], 8 * i, axis=1) for i in range(n)]


def frame_costs(imgsz: int, rounds: int = 4, live: bool = True) -> tuple[float, float]:
    """(tab function ms, plain predict ms): medians over the frames, each timed alternately.

    live=True times what the webcam stream calls for every frame (yolo_detect_live: detection and the
    annotated frame each time, the three "inside YOLO" pictures once a second); live=False the photo path."""
    from core import models
    from tabs import yolo_detect as Y

    tab_function = Y.yolo_detect_live if live else Y.yolo_detect

    detector = models.get("yolo11n", tiny=True)
    frames = _frames()
    state = None
    for frame in frames[:2]:  # warm-up (predictor set-up, first-call allocations)
        tab_function(frame, "yolo11n", Y.DEFAULT_CONF, Y.DEFAULT_IOU, imgsz, None, "32", True, state)
        detector.yolo.predict(np.ascontiguousarray(frame[:, :, ::-1]), imgsz=imgsz, conf=Y.DEFAULT_CONF,
                              iou=Y.DEFAULT_IOU, verbose=False)
    bgr_frames = [np.ascontiguousarray(f[:, :, ::-1]) for f in frames]  # what plain predict wants: made untimed
    tab_ms, plain_ms = [], []
    for _ in range(rounds):
        for frame, bgr in zip(frames, bgr_frames):
            started = time.perf_counter()
            *_, state = tab_function(frame, "yolo11n", Y.DEFAULT_CONF, Y.DEFAULT_IOU, imgsz, None, "32", True, state)
            tab_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            detector.yolo.predict(bgr, imgsz=imgsz, conf=Y.DEFAULT_CONF, iou=Y.DEFAULT_IOU, verbose=False)
            plain_ms.append((time.perf_counter() - started) * 1000)
    return statistics.median(tab_ms), statistics.median(plain_ms)


def browser_fps(seconds: float = 10.0) -> float:
    """Annotated frames per second that reach the page from the streaming webcam (fake camera clip)."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from tests.browser.test_yolo_detect_browser import COUNT_FRAMES_JS, write_y4m
    from tests.conftest import free_port, launch_chromium, open_tab, start_app, wait_for_http

    tmp = Path(tempfile.mkdtemp(prefix="bench_yolo_"))
    clip = write_y4m(tmp / "camera.y4m")
    port = free_port()
    proc = start_app(port, tmp / "server.log")
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_http(url, 180, proc)
        with sync_playwright() as p:
            browser = launch_chromium(p, ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                          f"--use-file-for-fake-video-capture={clip}"])
            context = browser.new_context(locale="en-US", viewport={"width": 1500, "height": 1100})
            context.grant_permissions(["camera"])
            page = context.new_page()
            page.set_default_timeout(90_000)
            page.goto(url)
            page.wait_for_selector("#app-header")
            open_tab(page, TAB)
            page.locator("#yolo-where input[value=server]").click()
            webcam = page.locator("#yolo-webcam")
            webcam.get_by_text("Click to Access Webcam").click()
            record = webcam.locator("button.capture-button")  # Gradio's "Record" button of the streaming webcam
            record.wait_for(state="visible")
            page.wait_for_timeout(1500)
            record.click()
            page.wait_for_selector("#yolo-annotated img")
            page.wait_for_timeout(3000)  # past the first (model loading) frames
            frames = page.evaluate(COUNT_FRAMES_JS, seconds)
            browser.close()
        return frames / seconds
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def start_server_stream(page) -> None:
    """The server path on one page: the 'on the server' choice, webcam access, Record; waits for a frame back."""
    page.locator("#yolo-where input[value=server]").click()
    webcam = page.locator("#yolo-webcam")
    webcam.wait_for(state="visible")
    webcam.get_by_text("Click to Access Webcam").click()
    record = webcam.locator("button.capture-button")
    record.wait_for(state="visible")
    page.wait_for_timeout(1000)
    record.click()
    page.wait_for_selector("#yolo-annotated img", timeout=180_000)


def server_cpu_percent(pid: int, seconds: float) -> float:
    """CPU of the server process over `seconds`, in % of one core (psutil; 200% = both cores of this machine)."""
    import psutil

    process = psutil.Process(pid)
    process.cpu_percent(None)
    time.sleep(seconds)
    return process.cpu_percent(None)


def wait_until_settled(pid: int, below: float = 15.0, timeout: float = 240.0) -> None:
    """Until the server process uses less than `below` % of a core over 2 s (or `timeout` passes)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout and server_cpu_percent(pid, 2.0) >= below:
        pass


def page_frames(page) -> int:
    return page.evaluate("window.__dlclassYoloDebug ? window.__dlclassYoloDebug.frames : 0")


def live_rows(seconds: float = 10.0, pages: int = 4) -> list[dict]:
    """In-page FPS (WASM) at imgsz 320 and 640; server CPU with `pages` pages detecting in the browser,
    then with `pages` pages streaming to the server path."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from core import webruntime
    from tests.browser.test_yolo_detect_browser import WATCH_FRAMES_JS, write_y4m
    from tests.browser.test_yolo_live_browser import camera_page, start_in_browser
    from tests.conftest import launch_chromium, running_app

    webruntime.ensure(download=True)  # as `python app.py --prefetch` does
    clip = write_y4m(Path(tempfile.mkdtemp(prefix="bench_yolo_live_")) / "camera.y4m")
    out = []
    with running_app("bench-yolo-live") as (url, proc, _), sync_playwright() as p:
        browser = launch_chromium(p, ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                      f"--use-file-for-fake-video-capture={clip}"])
        page = camera_page(browser, url, "en-US")
        start_in_browser(page, frames=5)  # past the export, the WebAssembly compile and the first frames
        wait_until_settled(proc.pid)  # the app's start-up work (imports, worked examples) is over
        for imgsz in (320, 640):
            page.locator("#yolo-imgsz").get_by_text(str(imgsz), exact=True).click()
            page.wait_for_function(f"window.__dlclassYoloDebug.imgsz === {imgsz}")
            first, started = page_frames(page), time.perf_counter()
            page.wait_for_timeout(seconds * 1000)
            fps = (page_frames(page) - first) / (time.perf_counter() - started)
            print(f"[yolo_detect] in-page detection, WASM, imgsz {imgsz}: {fps:.1f} FPS", flush=True)
            out.append(row(TAB, f"webcam in the browser (onnxruntime-web WASM, 1 thread, headless Chromium), "
                                f"640x480 frames, imgsz {imgsz}: frames per second in the page", fps, "FPS",
                           "reported"))
        page.context.close()

        views = [camera_page(browser, url, "en-US") for _ in range(pages)]
        for view in views:
            start_in_browser(view, frames=2)
        wait_until_settled(proc.pid)  # the app's start-up work (imports, worked examples) is over
        before = sum(page_frames(view) for view in views)
        cpu_browser = server_cpu_percent(proc.pid, seconds)
        done = sum(page_frames(view) for view in views) - before
        print(f"[yolo_detect] server CPU with {pages} pages detecting in the browser: {cpu_browser:.1f}% "
              f"({done / seconds:.1f} frames/s in the pages together)", flush=True)
        for view in views:
            view.context.close()

        views = [camera_page(browser, url, "en-US") for _ in range(pages)]
        for view in views:
            start_server_stream(view)
            view.evaluate(WATCH_FRAMES_JS)
        cpu_server = server_cpu_percent(proc.pid, seconds)
        served = sum(view.evaluate("window.__yoloSeen.size") for view in views)
        print(f"[yolo_detect] server CPU with {pages} pages streaming to the server path: {cpu_server:.1f}% "
              f"({served / seconds:.1f} annotated frames/s reached the pages together)", flush=True)
        for view in views:
            view.context.close()
        idle = camera_page(browser, url, "en-US")
        cpu_idle = server_cpu_percent(proc.pid, seconds)  # one page open, nothing running: the floor
        idle.context.close()
        browser.close()
    per_frame = cpu_server / 100 / max(served / seconds, 1e-9)  # CPU seconds per frame served
    print(f"[yolo_detect] server path: {per_frame * 1000:.0f} ms of CPU per frame served; idle server "
          f"{cpu_idle:.1f}%", flush=True)
    out.append(row(TAB, f"server process CPU (% of one core) while {pages} pages run the webcam view in the browser "
                        f"({done / seconds:.1f} frames/s detected in the pages)",
                   cpu_browser, "%", "< 10%", cpu_server,
                   f"{pages} pages streaming to the server path, {served / seconds:.1f} frames/s served, "
                   f"{per_frame * 1000:.0f} ms CPU per frame"))
    out.append(row(TAB, "server process CPU (% of one core), one page open, no camera running (the floor)",
                   cpu_idle, "%"))
    return out


def rows() -> list[dict]:
    os.environ.setdefault("DLCLASS_MODELS", "tiny")
    out = []
    for imgsz in (320, 640):
        tab_ms, plain_ms = frame_costs(imgsz)
        print(f"[yolo_detect] imgsz {imgsz}: webcam function {tab_ms:.1f} ms/frame, plain YOLO.predict {plain_ms:.1f} "
              f"ms/frame, ratio {plain_ms / tab_ms:.2f}", flush=True)
        out.append(row(TAB, f"yolo11n 640x480 frame, imgsz {imgsz}: webcam stream function (boxes drawn every frame)",
                       tab_ms, "ms", ">= 0.9x of plain predict", plain_ms, "plain YOLO.predict"))
    photo_ms, plain_ms = frame_costs(320, rounds=2, live=False)
    out.append(row(TAB, "yolo11n 640x480, imgsz 320: photo path (boxes + grid + before/after-NMS pictures)",
                   photo_ms, "ms", "", plain_ms, "plain YOLO.predict"))
    if os.environ.get("DLCLASS_BENCH_LIVE", "1") != "0":
        out += live_rows()
    if os.environ.get("DLCLASS_BENCH_BROWSER") == "1":
        fps = browser_fps()
        print(f"[yolo_detect] browser receives {fps:.1f} annotated webcam FPS (fake camera, imgsz 320)", flush=True)
        out.append(row(TAB, "streaming webcam: annotated frames received by Chromium (fake camera)", fps, "FPS"))
    return out
