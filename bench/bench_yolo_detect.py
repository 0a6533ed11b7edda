"""YOLO lesson: per-frame cost of the lesson's functions (`yolo_detect_webcam`: load_image, predict with the
raw-candidate hook, ByteTrack, the annotated frame with its Korean or English tags, the grid and NMS panels once a
second) against plain `YOLO.predict` on the same 640x480 frames, in the same run (target: ratio >= 0.9), for the
nano model at imgsz 320 and 640; the photo event cached (a class clicking the same example) against computed.

Tracking: ultralytics' ByteTrack (what the lesson uses, one per session) against the IoU tracker the lesson had
before (kept below as the baseline): track-number switches and ms per frame, on the y4m clip the browser tests play
as a fake camera (through the test zoo's detector) and on detections simulated from known motion (a camera pan,
two people crossing, fast motion as the server path sees it at a few frames per second), where the true identity
of every box is known.

The two frame costs are timed interleaved, frame by frame, so both see the same machine load. The model is the
test zoo's random-init YOLO11n built from ultralytics' yaml (the real architecture: the compute is the same).

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

    live=True times what the webcam stream calls for every frame (yolo_detect_webcam: detection, ByteTrack and
    the annotated frame each time, the three "inside YOLO" pictures once a second); live=False the photo path."""
    from core import models
    from tabs.yolo_detect import compute, tab

    def tab_function(frame, state):
        settings = ("yolo11n", compute.DEFAULT_CONF, compute.DEFAULT_IOU, imgsz, None, "32")
        if live:
            return tab.yolo_detect_webcam(frame, *settings, True, state, lang="ko")
        return (*tab.yolo_detect(frame, *settings, lang="ko"), state)

    detector = models.get("yolo11n", tiny=True)
    frames = _frames()
    state = None
    for frame in frames[:2]:  # warm-up (predictor set-up, first-call allocations)
        *_, state = tab_function(frame, state)
        detector.yolo.predict(np.ascontiguousarray(frame[:, :, ::-1]), imgsz=imgsz, conf=compute.DEFAULT_CONF,
                              iou=compute.DEFAULT_IOU, verbose=False)
    bgr_frames = [np.ascontiguousarray(f[:, :, ::-1]) for f in frames]  # what plain predict wants: made untimed
    tab_ms, plain_ms = [], []
    for _ in range(rounds):
        for frame, bgr in zip(frames, bgr_frames):
            started = time.perf_counter()
            *_, state = tab_function(frame, state)
            tab_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            detector.yolo.predict(bgr, imgsz=imgsz, conf=compute.DEFAULT_CONF, iou=compute.DEFAULT_IOU, verbose=False)
            plain_ms.append((time.perf_counter() - started) * 1000)
    return statistics.median(tab_ms), statistics.median(plain_ms)


def browser_fps(seconds: float = 10.0) -> float:
    """Annotated frames per second that reach the page from the streaming webcam (fake camera clip)."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from tests.browser.test_yolo_detect_browser import COUNT_FRAMES_JS, open_webcam_tab, write_y4m
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
            open_webcam_tab(page)
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


def in_page_fps_rows(browser, url: str, pid: int, seconds: float) -> list[dict]:
    """In-page detection speed (WASM) at imgsz 320 and 640, on one page."""
    from tests.browser.test_yolo_live_browser import camera_page, start_in_browser

    out = []
    page = camera_page(browser, url, "en-US")
    start_in_browser(page, frames=5)  # past the export, the WebAssembly compile and the first frames
    wait_until_settled(pid)  # the app's start-up work (imports, worked examples) is over
    for imgsz in (320, 640):
        page.locator("#yolo-imgsz").get_by_text(str(imgsz), exact=True).click()
        page.wait_for_function(f"window.__dlclassYoloDebug.imgsz === {imgsz}")
        first, started = page_frames(page), time.perf_counter()
        page.wait_for_timeout(seconds * 1000)
        fps = (page_frames(page) - first) / (time.perf_counter() - started)
        print(f"[yolo_detect] in-page detection, WASM, imgsz {imgsz}: {fps:.1f} FPS", flush=True)
        out.append(row(TAB, f"webcam in the browser (onnxruntime-web WASM, 1 thread, headless Chromium), "
                            f"640x480 frames, imgsz {imgsz}: frames per second in the page", fps, "FPS", "reported"))
    page.context.close()
    return out


def cpu_with_pages_in_the_browser(browser, url: str, pid: int, seconds: float, pages: int) -> tuple[float, float]:
    """(server CPU %, frames/s detected in the pages together) while `pages` pages detect in the browser."""
    from tests.browser.test_yolo_live_browser import camera_page, start_in_browser

    views = [camera_page(browser, url, "en-US") for _ in range(pages)]
    for view in views:
        start_in_browser(view, frames=2)
    wait_until_settled(pid)  # the app's start-up work (imports, worked examples) is over
    before = sum(page_frames(view) for view in views)
    cpu = server_cpu_percent(pid, seconds)
    rate = (sum(page_frames(view) for view in views) - before) / seconds
    print(f"[yolo_detect] server CPU with {pages} pages detecting in the browser: {cpu:.1f}% "
          f"({rate:.1f} frames/s in the pages together)", flush=True)
    for view in views:
        view.context.close()
    return cpu, rate


def cpu_with_pages_streaming(browser, url: str, pid: int, seconds: float, pages: int) -> tuple[float, float]:
    """(server CPU %, annotated frames/s that reached the pages together) while `pages` pages stream to the
    server path."""
    from tests.browser.test_yolo_detect_browser import WATCH_FRAMES_JS
    from tests.browser.test_yolo_live_browser import camera_page

    views = [camera_page(browser, url, "en-US") for _ in range(pages)]
    for view in views:
        start_server_stream(view)
        view.evaluate(WATCH_FRAMES_JS)
    cpu = server_cpu_percent(pid, seconds)
    rate = sum(view.evaluate("window.__yoloSeen.size") for view in views) / seconds
    print(f"[yolo_detect] server CPU with {pages} pages streaming to the server path: {cpu:.1f}% "
          f"({rate:.1f} annotated frames/s reached the pages together)", flush=True)
    for view in views:
        view.context.close()
    return cpu, rate


def live_rows(seconds: float = 10.0, pages: int = 4) -> list[dict]:
    """In-page FPS (WASM) at imgsz 320 and 640; server CPU with `pages` pages detecting in the browser,
    then with `pages` pages streaming to the server path."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from core import webruntime
    from tests.browser.test_yolo_detect_browser import write_y4m
    from tests.browser.test_yolo_live_browser import camera_page
    from tests.conftest import launch_chromium, running_app

    webruntime.ensure(download=True)  # as `python app.py --prefetch` does
    clip = write_y4m(Path(tempfile.mkdtemp(prefix="bench_yolo_live_")) / "camera.y4m")
    with running_app("bench-yolo-live") as (url, proc, _), sync_playwright() as p:
        browser = launch_chromium(p, ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                      f"--use-file-for-fake-video-capture={clip}"])
        out = in_page_fps_rows(browser, url, proc.pid, seconds)
        cpu_browser, detected = cpu_with_pages_in_the_browser(browser, url, proc.pid, seconds, pages)
        cpu_server, served = cpu_with_pages_streaming(browser, url, proc.pid, seconds, pages)
        idle = camera_page(browser, url, "en-US")
        cpu_idle = server_cpu_percent(proc.pid, seconds)  # one page open, nothing running: the floor
        idle.context.close()
        browser.close()
    per_frame = cpu_server / 100 / max(served, 1e-9)  # CPU seconds per frame served
    print(f"[yolo_detect] server path: {per_frame * 1000:.0f} ms of CPU per frame served; idle server "
          f"{cpu_idle:.1f}%", flush=True)
    out.append(row(TAB, f"server process CPU (% of one core) while {pages} pages run the webcam view in the browser "
                        f"({detected:.1f} frames/s detected in the pages)",
                   cpu_browser, "%", "< 10%", cpu_server,
                   f"{pages} pages streaming to the server path, {served:.1f} frames/s served, "
                   f"{per_frame * 1000:.0f} ms CPU per frame"))
    out.append(row(TAB, "server process CPU (% of one core), one page open, no camera running (the floor)",
                   cpu_idle, "%"))
    return out


# ---------------------------------------------------------------- tracking: ByteTrack against the old IoU tracker


class IouTracker:
    """The lesson's tracker before ByteTrack (the baseline of the tracking rows): a new box takes the number of
    the previous box of the same class it overlaps most (IoU above `match_iou`, best pairs first); unmatched boxes
    get new numbers; a number is forgotten after `max_missed` frames without its box."""

    def __init__(self, match_iou: float = 0.3, max_missed: int = 15):
        self.match_iou, self.max_missed, self.next_id = match_iou, max_missed, 1
        self.tracks: dict[int, tuple[np.ndarray, int, int]] = {}  # id -> (box, class, frames missed)

    def update(self, boxes: np.ndarray, classes: np.ndarray) -> np.ndarray:
        from tabs.yolo_detect.compute import pairwise_iou

        ids = np.zeros(len(boxes), dtype=int)
        track_ids, matched, used = list(self.tracks), set(), set()
        if track_ids and len(boxes):
            previous = np.stack([self.tracks[i][0] for i in track_ids])
            overlap = pairwise_iou(previous, boxes)
            overlap[np.array([self.tracks[i][1] for i in track_ids])[:, None] != classes[None, :]] = 0.0
            pairs = np.argwhere(overlap > self.match_iou)
            for t, d in pairs[np.argsort(-overlap[pairs[:, 0], pairs[:, 1]], kind="stable")].tolist():
                if track_ids[t] not in matched and d not in used:
                    ids[d] = track_ids[t]
                    matched.add(track_ids[t])
                    used.add(d)
        for d in range(len(boxes)):
            if ids[d] == 0:
                ids[d], self.next_id = self.next_id, self.next_id + 1
        for tid in track_ids:
            if tid not in matched:
                box, cls, missed = self.tracks.pop(tid)
                if missed + 1 <= self.max_missed:
                    self.tracks[tid] = (box, cls, missed + 1)
        for d, tid in enumerate(ids.tolist()):
            self.tracks[tid] = (boxes[d], int(classes[d]), 0)
        return ids


def simulated_detections(kind: str, rng: np.random.Generator, frames: int = 60) -> list[tuple]:
    """Detections as a detector gives them for objects of known motion: (boxes, scores, classes, true object of
    each box, -1 for a false positive) per frame. Each box jitters by 3% of its size, is missed in 10% of the
    frames, and a weak false positive appears in 30% of the frames."""
    if kind == "pan":  # the fake camera's clip: the camera pans, everything slides 8 px a frame
        objects = [([60, 120, 260, 400], [8, 0], 15), ([300, 200, 380, 300], [8, 0], 41), ([420, 60, 600, 460], [8, 0], 0)]
    elif kind == "crossing":  # two people walk past each other
        objects = [([40, 100, 160, 420], [12, 0], 0), ([600, 110, 720, 430], [-12, 0], 0)]
    else:  # "fast": the server path at a few frames per second sees 20-40 px between frames
        objects = [([0, 100, 150, 400], [40, 0], 0), ([300, 150, 400, 250], [-20, 10], 2)]
    out = []
    for t in range(frames):
        boxes, scores, classes, truth = [], [], [], []
        for k, (box, velocity, cls) in enumerate(objects):
            if rng.random() < 0.1:
                continue
            true_box = np.asarray(box, float) + np.tile(velocity, 2) * t
            size = np.tile(true_box[2:] - true_box[:2], 2)
            boxes.append(true_box + rng.normal(0, 0.03, 4) * size)
            scores.append(float(np.clip(rng.normal(0.6, 0.15), 0.26, 0.99)))
            classes.append(cls)
            truth.append(k)
        if rng.random() < 0.3:
            corner = rng.uniform(0, 500, 2)
            boxes.append(np.concatenate([corner, corner + rng.uniform(30, 120, 2)]))
            scores.append(float(rng.uniform(0.25, 0.35)))
            classes.append(int(rng.integers(0, 80)))
            truth.append(-1)
        out.append((np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32),
                    np.asarray(classes, int), truth))
    return out


def clip_detections(frames: int = 20) -> list[tuple]:
    """The y4m clip the browser tests play as a fake camera (the cat sliding 8 px a frame), as Chromium decodes it,
    through the test zoo's detector: (boxes, scores, classes, None) per frame."""
    import cv2

    from core import models
    from tabs.yolo_detect import compute

    detector = models.get("yolo11n", tiny=True)
    cat = cv2.resize(cv2.imread(str(ROOT / "assets" / "examples" / "cat.jpg")), (640, 480))
    out = []
    for i in range(frames):
        yuv = cv2.cvtColor(np.roll(cat, 8 * i, axis=1), cv2.COLOR_BGR2YUV_I420)
        rgb = cv2.cvtColor(cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420), cv2.COLOR_BGR2RGB)
        det = compute.detect_array(detector, rgb, compute.DEFAULT_CONF, compute.DEFAULT_IOU, 320, None,
                                   want_candidates=False)
        out.append((det.boxes, det.scores, det.classes, None))
    return out


def number_switches(frames: list[tuple], numbers: list[list[int]], shift: float | None = None) -> tuple[int, int, int]:
    """(switches, boxes shown without a number, boxes of real objects): a switch is a real object whose shown
    number differs from the number it showed last. Simulated frames say which object each box is; the clip's
    boxes are paired from frame to frame by the clip's known motion (`shift` px to the right)."""
    switches = unnumbered = shown = 0
    if shift is None:
        last: dict[int, int] = {}
        for (_, _, _, truth), ids in zip(frames, numbers):
            for k, number in zip(truth, ids):
                if k < 0:
                    continue
                shown += 1
                if not number:
                    unnumbered += 1
                    continue
                switches += k in last and last[k] != number
                last[k] = number
        return switches, unnumbered, shown
    from tabs.yolo_detect.compute import pairwise_iou

    for t in range(len(frames) - 1):
        (a, _, ca, _), (b, _, cb, _) = frames[t], frames[t + 1]
        shown += len(b)
        unnumbered += sum(1 for number in numbers[t + 1] if not number)
        if not len(a) or not len(b):
            continue
        overlap = pairwise_iou(a + np.array([shift, 0, shift, 0]), b)
        overlap[ca[:, None] != cb[None, :]] = 0
        pairs = np.argwhere(overlap > 0.5)
        paired_a, paired_b = set(), set()
        for i, j in pairs[np.argsort(-overlap[pairs[:, 0], pairs[:, 1]], kind="stable")].tolist():
            if i in paired_a or j in paired_b:  # one to one, best overlaps first: the same object a frame later
                continue
            paired_a.add(i)
            paired_b.add(j)
            switches += bool(numbers[t][i] and numbers[t + 1][j] and numbers[t][i] != numbers[t + 1][j])
    return switches, unnumbered, shown


def run_tracker(name: str, frames: list[tuple]) -> tuple[list[list[int]], list[float]]:
    """The numbers a fresh tracker gives each frame's boxes, and ms per frame of its update."""
    from tabs.yolo_detect import compute

    numbers, ms = [], []
    tracker = compute.new_tracker() if name == "bytetrack" else IouTracker()
    for boxes, scores, classes, _ in frames:
        started = time.perf_counter()
        if name == "bytetrack":
            det = compute.Detection.empty((480, 640), (480, 640))
            det.boxes, det.scores, det.classes = boxes, scores, classes
            ids = compute.track_ids(tracker, det)
        else:
            ids = tracker.update(boxes, classes)
        ms.append((time.perf_counter() - started) * 1000)
        numbers.append(ids.tolist())
    return numbers, ms


def tracker_rows(seeds: int = 20) -> list[dict]:
    out = []
    clip = clip_detections()
    cases = [("y4m fake-camera clip through the test-zoo YOLO11n (20 frames)", [clip], 8.0)]
    for kind in ("pan", "crossing", "fast"):
        cases.append((f"simulated '{kind}', {seeds} runs of 60 frames",
                      [simulated_detections(kind, np.random.default_rng(seed)) for seed in range(seeds)], None))
    for what, runs, shift in cases:
        result = {}
        for name in ("bytetrack", "iou"):
            switches = unnumbered = shown = 0
            times = []
            for frames in runs:
                numbers, ms = run_tracker(name, frames)
                s, u, n = number_switches(frames, numbers, shift)
                switches, unnumbered, shown, times = switches + s, unnumbered + u, shown + n, times + ms
            result[name] = (switches, unnumbered, shown, statistics.median(times))
        (bs, bu, bn, bms), (is_, _, _, ims) = result["bytetrack"], result["iou"]
        print(f"[yolo_detect] tracking, {what}: ByteTrack {bs} number switches, {bu} of {bn} boxes unnumbered, "
              f"{bms:.3f} ms/frame; IoU tracker {is_} switches, {ims:.3f} ms/frame", flush=True)
        out.append(row(TAB, f"tracking, {what}: number switches (ByteTrack; {bu} of {bn} boxes wait a frame "
                            f"for their number)", bs, "switches", "<= the IoU tracker", is_, "the old IoU tracker"))
        out.append(row(TAB, f"tracking, {what}: ms per frame of the tracker", bms, "ms", "", ims, "the old IoU tracker"))
    return out


def cached_photo_rows() -> list[dict]:
    """The photo event as a class meets it: an example already computed (the result cache) against computing it."""
    import gradio as gr

    from core import events
    from core.page import Page
    from core.settings import Settings
    from tabs.yolo_detect import compute, tab

    with gr.Blocks() as demo:
        page = Page(Settings(), demo)
        tab.build(page)
    record, args = next((r, a) for r, a in page.warm_calls if r.name == "yolo_detect")
    record.run(*args, lang="ko")  # computed once (as at warm-up)
    cached = statistics.median(_timed(lambda: record.run(*args, lang="ko")) for _ in range(7))
    computed = statistics.median(_timed(lambda: record.compute(*args, lang="ko")) for _ in range(3))
    print(f"[yolo_detect] photo example: cached {cached:.2f} ms, computed {computed:.1f} ms "
          f"({compute.example_photos()[0].name})", flush=True)
    assert events.RESULTS.hits > 0
    return [row(TAB, "photo example (worked example, imgsz 320) from the result cache", cached, "ms", "", computed,
                "computed (detection, tags, grid and NMS pictures, JPEG)")]


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def rows() -> list[dict]:
    os.environ.setdefault("DLCLASS_MODELS", "tiny")
    out = []
    for imgsz in (320, 640):
        tab_ms, plain_ms = frame_costs(imgsz)
        print(f"[yolo_detect] imgsz {imgsz}: webcam function {tab_ms:.1f} ms/frame, plain YOLO.predict {plain_ms:.1f} "
              f"ms/frame, ratio {plain_ms / tab_ms:.2f}", flush=True)
        out.append(row(TAB, f"yolo11n 640x480 frame, imgsz {imgsz}: webcam stream function (ByteTrack, boxes drawn "
                            f"every frame)",
                       tab_ms, "ms", ">= 0.9x of plain predict", plain_ms, "plain YOLO.predict"))
    photo_ms, plain_ms = frame_costs(320, rounds=2, live=False)
    out.append(row(TAB, "yolo11n 640x480, imgsz 320: photo path (boxes + grid + before/after-NMS pictures)",
                   photo_ms, "ms", "", plain_ms, "plain YOLO.predict"))
    out += cached_photo_rows()
    out += tracker_rows()
    if os.environ.get("DLCLASS_BENCH_LIVE", "1") != "0":
        out += live_rows()
    if os.environ.get("DLCLASS_BENCH_BROWSER") == "1":
        fps = browser_fps()
        print(f"[yolo_detect] browser receives {fps:.1f} annotated webcam FPS (fake camera, imgsz 320)", flush=True)
        out.append(row(TAB, "streaming webcam: annotated frames received by Chromium (fake camera)", fps, "FPS"))
    return out
