"""The webcam view that runs YOLO inside the browser (assets/js/yolo_live.mjs, onnxruntime-web), in Chromium:

- the page's steps around the network (letterbox, candidates, NMS, box scaling, ByteTrack and its assignment)
  against ultralytics, lap and the lesson's Python on the same numbers;
- the boxes the page draws on a frame of Chromium's fake camera against the boxes ultralytics computes in
  Python for the same frame pixels and the same model (the test zoo's YOLO11n; the page runs its ONNX export);
- the controls of the tab reaching the running detector at once;
- the fallback to the server path when the model file cannot be loaded;
- the tags drawn on the canvas in the page's language (Korean class names on a Korean page);
- screenshots of the running view in Korean and English.

The real onnxruntime-web is used: the module fixture obtains it the way the app does (core.webruntime:
the npm registry's tarball, checked against the pinned hash), or uses the cache when it is there.
"""
from __future__ import annotations

import base64
import re

import numpy as np
import pytest
import torch

from bench.bench_yolo_detect import simulated_detections
from core import models, text, webruntime
from core.zoo import yolo as zoo
from tabs.yolo_detect import compute, tab
from tests.browser.test_yolo_detect_browser import open_webcam_tab, write_y4m
from tests.conftest import launch_chromium, open_tab, shot, wait_for_picture

TAB_ID = "yolo_detect"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def onnxruntime_web():
    """The real library, as `python app.py --prefetch` gets it (CI downloads it here; later runs use the cache).
    (Ultralytics is prepared first: the tests below import its modules, and its switches are read at import.)"""
    zoo.prepare_library()
    try:
        return webruntime.ensure(download=True)
    except text.Problem as problem:
        pytest.skip(f"onnxruntime-web is not in the cache and cannot be downloaded: {problem.say('en')}")


def steps_url(app_url: str) -> str:
    return f"{app_url}gradio_api/file={tab.JS_DIR / 'yolo_steps.mjs'}"


def run_steps(page, app_url: str, body: str, arg):
    """Evaluate `body` (an async function of (steps, arg)) with the page's steps module imported."""
    return page.evaluate(f"async ([url, arg]) => {{ const steps = await import(url); return ({body})(steps, arg); }}",
                         [steps_url(app_url), arg])


# ------------------------------------------------------------------ the steps, number for number


def test_letterbox_matches_ultralytics(page_en, app_url):
    from ultralytics.data.augment import LetterBox

    rng = np.random.default_rng(0)
    cases = [((480, 640), 320), ((480, 640), 640), ((720, 1280), 416), ((481, 641), 320), ((300, 200), 320),
             ((1080, 1920), 640), ((640, 480), 512)]
    for (h, w), imgsz in cases:
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        expected = LetterBox(imgsz, auto=True, stride=32)(image=frame[:, :, ::-1].copy())[:, :, ::-1]  # BGR in
        rgba = np.concatenate([frame, np.full((h, w, 1), 255, np.uint8)], axis=2)
        answer = run_steps(page_en, app_url, """(steps, a) => {
            const bytes = Uint8Array.from(atob(a.rgba), c => c.charCodeAt(0));
            const { input, shape } = steps.letterbox(bytes, a.w, a.h, a.imgsz);
            const out = new Uint8Array(input.length);
            for (let i = 0; i < input.length; i++) out[i] = Math.round(input[i] * 255);
            let s = ''; for (let i = 0; i < out.length; i += 8192) s += String.fromCharCode(...out.subarray(i, i + 8192));
            return { shape, pixels: btoa(s) }; }""",
            {"rgba": base64.b64encode(rgba.tobytes()).decode(), "w": w, "h": h, "imgsz": imgsz})
        shape = answer["shape"]
        assert (shape["inH"], shape["inW"]) == expected.shape[:2], ((h, w), imgsz)
        ours = np.frombuffer(base64.b64decode(answer["pixels"]), np.uint8).reshape(3, shape["inH"], shape["inW"])
        diff = np.abs(ours.transpose(1, 2, 0).astype(int) - expected.astype(int))
        if w >= h:  # landscape (every webcam): rows of imgsz pixels, OpenCV's vectorised rule throughout
            assert diff.max() == 0, ((h, w), imgsz, diff.max(), (diff > 0).mean())
        else:  # the last few pixels of a narrow row take OpenCV's scalar rule, which rounds a few values apart
            assert diff.max() <= 1 and (diff > 0).mean() < 0.002, ((h, w), imgsz, diff.max(), (diff > 0).mean())


def test_candidates_nms_and_box_scaling_match_ultralytics(page_en, app_url):
    from ultralytics.utils import nms, ops

    rng = np.random.default_rng(1)
    anchors, (in_h, in_w), (frame_h, frame_w) = 1680, (256, 320), (480, 640)
    # Clusters of jittered boxes, as a detector gives around each object; scores on every class.
    centres = rng.uniform(20, 300, (25, 2))
    xy = centres[rng.integers(0, 25, anchors)] + rng.normal(0, 4, (anchors, 2))
    wh = rng.uniform(20, 90, (anchors, 2))
    output = np.concatenate([xy.T, wh.T, rng.uniform(0, 0.6, (80, anchors)) ** 3], axis=0).astype(np.float32)
    for conf, iou, classes in ((0.05, 0.7, None), (0.1, 0.45, [0, 2, 5]), (0.02, 0.3, None)):
        allowed = None if classes is None else [int(c in classes) for c in range(80)]
        ours = run_steps(page_en, app_url, """(steps, a) => {
            const out = new Float32Array(Uint8Array.from(atob(a.output), c => c.charCodeAt(0)).buffer);
            return steps.detect(out, [1, 84, a.anchors], { conf: a.conf, iou: a.iou,
                                allowed: a.allowed && Uint8Array.from(a.allowed) }, 480, 640, 256, 320); }""",
            {"output": base64.b64encode(output.tobytes()).decode(), "anchors": anchors, "conf": conf, "iou": iou,
             "allowed": allowed})
        kept = nms.non_max_suppression(torch.from_numpy(output[None]), conf, iou, classes=classes, max_det=300)[0]
        boxes = ops.scale_boxes((in_h, in_w), kept[:, :4].clone(), (frame_h, frame_w)).numpy()
        assert len(ours["boxes"]) == len(kept) > 5, (conf, iou)
        assert ours["candidates"] == int(((output[4:].max(0) > conf) & (
            True if classes is None else np.isin(output[4:].argmax(0), classes))).sum())
        # Best first in both; boxes of exactly equal score may come in either order (torch's sort is not stable).
        assert np.all(np.diff(ours["scores"]) <= 0)
        rows = lambda b, s, c: sorted(zip(np.round(np.asarray(s, np.float64), 6), c,  # noqa: E731
                                          np.round(np.asarray(b), 3).tolist()))
        ours_rows = rows(ours["boxes"], ours["scores"], ours["classes"])
        expected_rows = rows(boxes, kept[:, 4].numpy(), kept[:, 5].int().tolist())
        for (score, cls, box), (score_e, cls_e, box_e) in zip(ours_rows, expected_rows):
            assert cls == cls_e and abs(score - score_e) < 1e-6
            np.testing.assert_allclose(box, box_e, atol=2e-3)


def test_nms_is_the_lessons_nms(page_en, app_url):
    rng = np.random.default_rng(2)
    boxes, classes = [], []
    for k, (cx, cy) in enumerate(rng.uniform(50, 450, (10, 2))):
        for _ in range(8):
            w, h = rng.uniform(40, 80, 2)
            jx, jy = rng.normal(0, 4, 2)
            boxes.append([cx + jx - w / 2, cy + jy - h / 2, cx + jx + w / 2, cy + jy + h / 2])
            classes.append(k % 3)
    scores = rng.uniform(0.1, 1.0, len(boxes)).tolist()
    for threshold in (0.3, 0.5, 0.7, 0.9):
        ours = run_steps(page_en, app_url, "(steps, a) => steps.nms(a.boxes, a.scores, a.classes, a.t)",
                         {"boxes": boxes, "scores": scores, "classes": classes, "t": threshold})
        assert ours == compute.nms_with_owners(np.array(boxes), np.array(scores), np.array(classes), threshold)[0].tolist()


def test_assignment_is_laps_with_its_cost_limit(page_en, app_url):
    """The page's linearAssignment pairs what lap.lapjv(cost, extend_cost=True, cost_limit) pairs (ultralytics'
    call): the same matches, the same unpaired rows and columns."""
    import lap

    rng = np.random.default_rng(4)
    cases = []
    for _ in range(60):
        n, m = (int(v) for v in rng.integers(0, 9, 2))
        cases.append((rng.random((n, m)).tolist(), float(rng.uniform(0.2, 1.0)), m))
    ours = run_steps(page_en, app_url, """(steps, cases) => cases.map(([cost, limit, columns]) =>
        steps.linearAssignment(cost, limit, columns))""", cases)
    for (cost, limit, columns), answer in zip(cases, ours):
        matrix = np.array(cost, dtype=np.float64).reshape(len(cost), columns)
        if matrix.size == 0:  # nothing to pair: every row and every column stays unpaired
            assert answer == {"matches": [], "rows": list(range(len(cost))), "cols": list(range(columns))}
            continue
        _, x, y = lap.lapjv(matrix, extend_cost=True, cost_limit=limit)
        assert answer["matches"] == [[i, int(j)] for i, j in enumerate(x) if j >= 0]
        assert answer["rows"] == np.flatnonzero(x < 0).tolist() and answer["cols"] == np.flatnonzero(y < 0).tolist()


def weak_and_gone(rng: np.random.Generator, frames: int = 80) -> list[tuple]:
    """Boxes that weaken below the strong threshold (ByteTrack's second stage), vanish for longer than the track
    buffer and come back, appear next to each other, and one that changes class."""
    out = []
    for t in range(frames):
        boxes, scores, classes = [], [], []
        for k in range(5):
            if 20 + 10 * k <= t < 55 + 10 * k and k % 2:  # gone for 35 frames (more than track_buffer = 30)
                continue
            x, y = 40 + 110 * k + 4 * t * (-1) ** k, 100 + 20 * k + 2 * t
            boxes.append([x, y, x + 80 + 5 * k, y + 150])
            scores.append(float(rng.uniform(0.12, 0.24) if (t + k) % 7 == 0 else rng.uniform(0.3, 0.95)))
            classes.append(k if not (k == 2 and t > 40) else 7)
        out.append((np.asarray(boxes, np.float32).reshape(-1, 4) + rng.normal(0, 1.5, (len(boxes), 4)).astype(np.float32),
                    np.asarray(scores, np.float32), np.asarray(classes), None))
    return out


def test_bytetrack_numbers_the_boxes_as_ultralytics_does(page_en, app_url):
    """The page's ByteTracker and ultralytics' BYTETracker (the server's, through compute.track_ids) give every
    box of every frame the same number, with the same settings (ultralytics' bytetrack.yaml)."""
    sequences = [simulated_detections(kind, np.random.default_rng(seed), frames=60)
                 for kind in ("pan", "crossing", "fast") for seed in range(3)]
    sequences += [weak_and_gone(np.random.default_rng(seed)) for seed in range(3)]
    for frames in sequences:
        tracker, expected = compute.new_tracker(), []
        for boxes, scores, classes, _ in frames:
            det = compute.Detection.empty((480, 640), (480, 640))
            det.boxes, det.scores, det.classes = boxes, scores, classes
            expected.append(compute.track_ids(tracker, det).tolist())
        ours = run_steps(page_en, app_url, """(steps, a) => {
            const tracker = new steps.ByteTracker(a.settings);
            return a.frames.map(([boxes, scores, classes]) => tracker.update(boxes, scores, classes)); }""",
            {"settings": compute.tracker_settings(),
             "frames": [(b.tolist(), s.tolist(), c.tolist()) for b, s, c, _ in frames]})
        assert ours == expected
    assert max(max(ids, default=0) for ids in expected) > 5  # new numbers were given along the way


# ------------------------------------------------------------------ the live view with the fake camera


@pytest.fixture
def camera_browser(playwright_instance, tmp_path):
    clip = write_y4m(tmp_path / "fake_camera.y4m")
    browser = launch_chromium(playwright_instance, [
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ])
    yield browser
    browser.close()


def camera_page(browser, app_url, locale: str):
    context = browser.new_context(locale=locale, viewport={"width": 1500, "height": 1100},
                                  extra_http_headers={"Accept-Language": locale})
    context.grant_permissions(["camera"])
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url)
    page.wait_for_selector("#app-header", timeout=60_000)
    page.on("console", lambda message: message.type == "error" and print(f"[console] {message.text[:300]}"))
    open_tab(page, TAB_ID)
    open_webcam_tab(page)
    page.wait_for_selector("#yolo-live [data-role=start]:not([disabled])")  # the page code listens
    return page


def start_in_browser(page, frames: int = 3) -> None:
    page.locator("#yolo-live [data-role=start]").click()
    # The first start exports the detector to ONNX on the server and compiles the WebAssembly: seconds.
    page.wait_for_function(f"window.__dlclassYoloDebug && window.__dlclassYoloDebug.frames >= {frames}",
                           timeout=180_000)


READ_FRAME_JS = """() => { const d = window.__dlclassYoloDebug;
  let s = ''; for (let i = 0; i < d.rgba.length; i += 8192) s += String.fromCharCode(...d.rgba.subarray(i, i + 8192));
  return { ...d, rgba: btoa(s) }; }"""


def page_and_python_agree(page, detector, imgsz: int) -> int:
    """The page's boxes on its last frame against ultralytics' predict on the same pixels; returns the count."""
    from ultralytics.data.augment import LetterBox

    page.wait_for_function(f"window.__dlclassYoloDebug.imgsz === {imgsz}", timeout=60_000)
    seen = page.evaluate(READ_FRAME_JS)
    rgba = np.frombuffer(base64.b64decode(seen["rgba"]), np.uint8).reshape(seen["height"], seen["width"], 4)
    bgr = np.ascontiguousarray(rgba[:, :, 2::-1])
    assert tuple(seen["input_hw"]) == LetterBox(imgsz, auto=True, stride=32)(image=bgr).shape[:2]
    with detector.lock:
        result = detector.yolo.predict(bgr, conf=seen["conf"], iou=seen["iou"], imgsz=imgsz, max_det=300,
                                       verbose=False)[0]
    expected = [(box, int(cls)) for box, cls in zip(result.boxes.xyxy.tolist(), result.boxes.cls.tolist())]
    found = [(d["box"], d["cls"]) for d in seen["detections"]]
    assert len(found) == len(expected) > 0, (imgsz, len(found), len(expected))
    unused = list(range(len(expected)))
    for box, cls in found:  # box for box: the same class and IoU >= 0.9 with a box not matched yet
        overlaps = [(compute.pairwise_iou(np.array([box]), np.array([expected[j][0]]))[0, 0], j) for j in unused
                    if expected[j][1] == cls]
        best, j = max(overlaps, default=(0.0, None))
        assert best >= 0.9, (imgsz, box, cls, best)
        unused.remove(j)
    return len(found)


def test_page_boxes_equal_ultralytics_on_the_same_frame_and_controls_apply_at_once(camera_browser, app_url,
                                                                                   screenshots):
    detector = models.get("yolo11n", tiny=True)  # the same test-zoo network the server exported for the page
    page = camera_page(camera_browser, app_url, "en-US")
    start_in_browser(page)
    assert page.evaluate("window.__dlclassYoloDebug.backend") == "wasm"  # headless Chromium has no GPU adapter
    page_and_python_agree(page, detector, 320)
    live = page.locator("#yolo-live").inner_text()
    assert "frames per second" in live and "inference" in live and "Before NMS" in live and "WebAssembly" in live
    assert "person" in page.locator("#yolo-live [data-stat=counts]").inner_text()
    labels = page.evaluate("window.__dlclassYoloDebug.detections.map(d => d.label)")
    assert any(label.startswith("person ") for label in labels) and not any(re.search("[가-힣]", l) for l in labels)
    shot(page, screenshots, "yolo_live_en")
    # The input size radio reaches the running detector (no restart): the page letterboxes to 640 now.
    page.locator("#yolo-imgsz").get_by_text("640", exact=True).click()
    page_and_python_agree(page, detector, 640)
    # Clearing the classes empties the boxes at once.
    page.locator("#yolo-imgsz").get_by_text("320", exact=True).click()
    page.get_by_text("Classes to find (COCO, 80)").click()
    page.get_by_role("button", name="Clear all").click()
    page.wait_for_function("window.__dlclassYoloDebug.detections.length === 0 && "
                           "window.__dlclassYoloDebug.candidates === 0", timeout=60_000)
    page.wait_for_function("document.querySelector('#yolo-live [data-stat=counts]').innerText.includes('Nothing found')")
    # Another model: the page asks the server for that detector's ONNX file and swaps it in while running.
    page.locator("#yolo-model input").click()
    page.get_by_role("option", name="yolo11s").click()
    page.wait_for_function("window.__dlclassYoloDebug.model === 'yolo11s'", timeout=240_000)
    page.context.close()


def test_live_view_in_korean(camera_browser, app_url, screenshots):
    page = camera_page(camera_browser, app_url, "ko-KR")
    assert "카메라 화면이 이 컴퓨터를 떠나지 않습니다" in page.locator("#yolo-live").inner_text()
    start_in_browser(page)
    page.wait_for_function("document.querySelector('#yolo-live [data-stat=counts]') !== null")
    live = page.locator("#yolo-live").inner_text()
    assert "초당 프레임" in live and "추론" in live and "NMS 전 후보" in live
    assert "사람 (person)" in page.locator("#yolo-live [data-stat=counts]").inner_text()  # COCO names in Korean
    # The tags drawn on the canvas: the Korean class name, the confidence and (from the second frame) the number.
    page.wait_for_function("window.__dlclassYoloDebug.detections.some(d => d.id > 0)", timeout=60_000)
    labels = page.evaluate("window.__dlclassYoloDebug.detections.map(d => d.label)")
    assert labels and all(re.fullmatch(r"\S+ \d\.\d\d( #\d+)?", label) for label in labels), labels
    assert any(re.fullmatch(r"사람 \d\.\d\d #\d+", label) for label in labels), labels
    # One frame to the server path, for the "inside YOLO" pictures: the same counts as the page on that frame.
    page.locator("#yolo-live [data-role=snapshot]").click()
    wait_for_picture(page, "#yolo-after", timeout=90_000)
    page.wait_for_function("document.querySelector('#yolo-info').innerText.includes('후보')", timeout=60_000)
    shot(page, screenshots, "yolo_live_ko")
    page.context.close()


def test_browser_without_wasm_simd_falls_back_to_the_server_path(camera_browser, app_url):
    context = camera_browser.new_context(locale="en-US", viewport={"width": 1500, "height": 1100},
                                         extra_http_headers={"Accept-Language": "en-US"})
    context.add_init_script("WebAssembly.validate = () => false;")  # what a browser without SIMD answers
    context.grant_permissions(["camera"])
    page = context.new_page()
    page.goto(app_url)
    page.wait_for_selector("#app-header", timeout=60_000)
    open_tab(page, TAB_ID)
    open_webcam_tab(page)
    page.locator("#yolo-live [data-role=start]:not([disabled])").click()
    notice = page.locator("#yolo-notice")
    notice.wait_for(state="visible", timeout=60_000)
    assert "no WebAssembly SIMD" in notice.inner_text()
    assert page.locator("#yolo-where input[value=server]").is_checked()
    page.wait_for_selector("#yolo-webcam", state="visible")
    context.close()


def test_unreachable_model_file_falls_back_to_the_server_path(camera_browser, app_url, screenshots):
    page = camera_page(camera_browser, app_url, "en-US")
    page.route("**/*.onnx*", lambda route: route.abort())  # the model file cannot be fetched
    page.locator("#yolo-live [data-role=start]").click()
    notice = page.locator("#yolo-notice")
    notice.wait_for(state="visible", timeout=180_000)
    assert "model file could not be loaded" in notice.inner_text()
    assert page.locator("#yolo-where input[value=server]").is_checked()
    # The page pressed the server webcam's buttons itself: annotated frames arrive from the server.
    wait_for_picture(page, "#yolo-annotated", timeout=120_000)
    page.wait_for_function("document.querySelector('#yolo-info').innerText.includes('Frames received')",
                           timeout=120_000)
    assert page.locator("#yolo-live").count() == 0  # the in-browser view is gone, and so is its camera
    shot(page, screenshots, "yolo_live_fallback_en")
    page.context.close()


# ------------------------------------------------------------------ in a class: numbers only leave the page

PIN = "4821"
# What a picture looks like on the wire: PNG, JPEG, WebP and WebM/Matroska headers, a data URL, and the base64 of
# the PNG and JPEG headers.
PICTURE_SIGNS = (b"\x89PNG", b"\xff\xd8\xff", b"RIFF", b"\x1aE\xdf\xa3", b"data:image", b"iVBORw0KGgo", b"/9j/")


@pytest.fixture(scope="module")
def class_url():
    from tests.conftest import running_app

    with running_app("server-yolo-class", args=("--teacher-pin", PIN)) as (url, _, _):
        yield url


def recorded_student(browser, url: str, sent: list):
    """A student page whose every request (and every WebSocket frame) is recorded from its first one on."""
    import time

    context = browser.new_context(locale="en-US", viewport={"width": 1500, "height": 1100},
                                  extra_http_headers={"Accept-Language": "en-US"})
    context.grant_permissions(["camera"])
    context.on("request", lambda request: sent.append((time.monotonic(), request.method, request.url,
                                                       request.post_data_buffer or b"")))
    page = context.new_page()
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(
        (time.monotonic(), "WS", ws.url, frame if isinstance(frame, bytes) else str(frame).encode()))))
    page.set_default_timeout(60_000)
    page.goto(url)
    page.wait_for_selector("#app-header", timeout=60_000)
    return page


def test_a_student_page_in_a_class_sends_its_counts_and_never_a_picture(camera_browser, class_url, screenshots):
    from core.class_results import numbers_only
    from tests.browser.test_teacher_browser import unlock_and_start
    from tests.conftest import _page

    teacher_context, teacher = _page(camera_browser, class_url, "en-US")
    sent: list = []
    student = recorded_student(camera_browser, class_url, sent)
    try:
        unlock_and_start(teacher)
        student.wait_for_function("() => document.querySelector('#class-nickname').textContent.length > 2")
        open_tab(student, TAB_ID)
        open_webcam_tab(student)
        start_in_browser(student, frames=10)
        teacher.wait_for_function("() => { const p = document.querySelector('#class-results-yolo_detect');"
                                  " return p && p.dataset.pages === '1'; }", timeout=60_000)
        student.wait_for_timeout(6_000)  # a few more reports: they come at most every 2 s
        reports = [(at, body) for at, method, url, body in sent
                   if "/component_server" in url and b'"class_report"' in body]
        assert len(reports) >= 2, [(method, url, body[:120]) for _, method, url, body in sent if method != "GET"][-8:]
        for _, body in reports:
            data = __import__("json").loads(body)["data"]
            assert set(data) == {"seat", "tab", "numbers"} and data["tab"] == TAB_ID
            assert numbers_only(data["numbers"]) == data["numbers"] and set(data["numbers"]) == {"camera", "counts"}
        assert all(b - a >= 1.9 for (a, _), (b, _) in zip(reports, reports[1:]))  # throttled
        assert student.evaluate("window.__dlclassYoloDebug.frames") >= 30  # many frames, few reports
        for at, method, url, body in sent:  # nothing anywhere looks like a picture, and nothing is large
            assert not any(sign in body for sign in PICTURE_SIGNS), (method, url, body[:200])
            assert len(body) < 16_000 and len(url) < 2_000 and "data:image" not in url, (method, url, len(body))
        # The projector adds the page's counts up; one student's camera can go on the projector by itself.
        totals = teacher.locator("#class-results-yolo_detect").inner_text()
        assert "Cameras on in the class: 1" in totals, totals
        teacher.locator("details[data-role=roster-box] summary").click()
        teacher.locator("#class-roster button").first.click()
        teacher.wait_for_selector("#class-shown", state="visible")
        assert "Objects the camera finds" in teacher.locator("#class-shown").inner_text()
        shot(teacher, screenshots, "yolo_class_projector_en")
    finally:
        student.context.close()
        teacher_context.close()
