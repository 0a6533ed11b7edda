"""YOLO tab: per-frame cost of the tab's function (`yolo_detect`: load_image, predict with the raw-candidate
hook, tracking, the annotated frame, grid and NMS panels) against plain `YOLO.predict` on the same
640x480 frames, in the same run (target: ratio >= 0.9), for the nano model at imgsz 320 and 640.

The two are timed interleaved, frame by frame, so both see the same machine load. The model is the test
zoo's random-init YOLO11n built from ultralytics' yaml (the real architecture: the compute is the same).

Set DLCLASS_BENCH_BROWSER=1 to add the frame rate the browser receives from the streaming webcam
(Chromium's fake camera): it starts the app and Chromium, so it is off by default.
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
    if os.environ.get("DLCLASS_BENCH_BROWSER") == "1":
        fps = browser_fps()
        print(f"[yolo_detect] browser receives {fps:.1f} annotated webcam FPS (fake camera, imgsz 320)", flush=True)
        out.append(row(TAB, "streaming webcam: annotated frames received by Chromium (fake camera)", fps, "FPS"))
    return out
