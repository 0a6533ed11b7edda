"""What the page costs the school Wi-Fi, recorded in Chromium request by request (bench/bench_wire.py's Recorder:
every answer, the workers' included, with its bytes on the wire):

- a page open (ko, 1366x768): the HTML compressed, every cacheable answer (GET 200) with a Cache-Control,
  no request to another host than the app's (no web fonts, no CDN);
- the webcam detector in the browser (Chromium's fake camera): the first Start downloads the compact
  model and the runtime (<= 8 MB in all, both compressed and immutable), and Stop then Start downloads
  nothing of either (the session stays in the page).
"""
from __future__ import annotations

import pytest

from bench.bench_wire import MODEL_OR_RUNTIME, open_recorded, wire_bytes, wire_problems
from core import text, webruntime
from tests.browser.test_yolo_detect_browser import open_webcam_tab, write_y4m
from tests.conftest import launch_chromium, open_tab, shot

pytestmark = pytest.mark.browser
FIRST_START_LIMIT = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def camera_browser(playwright_instance, tmp_path_factory):
    from core.zoo import yolo as zoo

    zoo.prepare_library()
    try:
        webruntime.ensure(download=True)  # the real onnxruntime-web, as `python app.py --prefetch` gets it
    except text.Problem as problem:
        pytest.skip(f"onnxruntime-web is not in the cache and cannot be downloaded: {problem.say('en')}")
    clip = write_y4m(tmp_path_factory.mktemp("camera") / "fake_camera.y4m")
    browser = launch_chromium(playwright_instance, [
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ])
    yield browser
    browser.close()


def test_page_open_is_compressed_cached_and_from_the_app_alone(camera_browser, app_url, screenshots):
    page, recorder = open_recorded(camera_browser, app_url)
    seen = recorder.since(0)
    html = [s for s in seen if s.url.rstrip("/") == app_url.rstrip("/")]
    assert html and html[0].headers.get("content-encoding") in ("gzip", "br"), html
    assert html[0].bytes < 150_000, html[0].bytes  # the bound for the HTML on the wire
    assert len(seen) > 20 and sum(s.status == 200 and s.method == "GET" for s in seen) > 20  # a real page
    assert wire_problems(seen, app_url) == []
    # A reload: the hashed files come from the browser's cache (immutable), so it moves far fewer bytes.
    mark = recorder.mark()
    page.reload()
    page.wait_for_selector("#app-header", timeout=60_000)
    recorder.settle(page)
    again = recorder.since(mark)
    assert wire_problems(again, app_url) == []
    assert wire_bytes(again) < wire_bytes(seen) / 3, (wire_bytes(again), wire_bytes(seen))
    shot(page, screenshots, "wire_page_ko")
    page.context.close()


def test_webcam_downloads_the_compact_model_once(camera_browser, app_url, screenshots):
    page, recorder = open_recorded(camera_browser, app_url)
    open_tab(page, "yolo_detect")
    open_webcam_tab(page)
    page.wait_for_selector("#yolo-live [data-role=start]:not([disabled])")
    recorder.settle(page)
    mark = recorder.mark()
    page.locator("#yolo-live [data-role=start]").click()
    page.wait_for_function("window.__dlclassYoloDebug && window.__dlclassYoloDebug.frames >= 3", timeout=180_000)
    first = recorder.since(mark)
    files = [s for s in first if any(part in s.url for part in MODEL_OR_RUNTIME)]
    models = [s for s in files if ".onnx" in s.url]
    assert len(models) == 1 and models[0].url.endswith("-w8.onnx"), [s.url for s in models]  # the compact twin
    wasm = [s for s in files if s.url.endswith(".wasm")]
    assert wasm and all(s.headers.get("content-encoding") == "gzip" for s in wasm + models)
    assert all("immutable" in s.headers.get("cache-control", "") for s in files)
    assert 0 < wire_bytes(first) <= FIRST_START_LIMIT, wire_bytes(first)
    # Stop, then Start: the same session runs on, nothing of the model or the runtime is asked again.
    page.locator("#yolo-live [data-role=stop]").click()
    frames = page.evaluate("window.__dlclassYoloDebug.frames")
    mark = recorder.mark()
    page.locator("#yolo-live [data-role=start]").click()
    page.wait_for_function(f"window.__dlclassYoloDebug.frames >= {frames + 3}", timeout=60_000)
    second = recorder.since(mark)
    assert [s.url for s in second if any(part in s.url for part in MODEL_OR_RUNTIME)] == []
    assert wire_bytes(second, MODEL_OR_RUNTIME) == 0
    shot(page, screenshots, "wire_webcam_ko")
    page.context.close()
