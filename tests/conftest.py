"""Shared test set-up: the test zoo, an app server on a free loopback port, and Debian's Chromium.

Tests never touch the network: DLCLASS_MODELS=tiny makes every model spec build a tiny random
model of its family; DLCLASS_OFFLINE=1 forbids downloads. The real offline weights (the
EfficientNet-Lite0 pip package, ../shared/weights) are used where a test asks for them.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SCREENSHOTS = ROOT / "tests" / "screenshots"
CHROMIUM = os.environ.get("DLCLASS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
]

TEST_ENV = {
    "DLCLASS_MODELS": "tiny",
    "DLCLASS_OFFLINE": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "YOLO_OFFLINE": "1",
    "PYTHONUNBUFFERED": "1",
    # Every test client comes from 127.0.0.1: the whole suite opens far more sessions from that one address
    # than a class does (core/guard.py's per-address limit is tested on its own in tests/test_guard.py).
    "DLCLASS_MAX_NEW_SESSIONS": "100000",
}
os.environ.update(TEST_ENV)
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> float:
    """Seconds until `url` answers 200; fails if the process dies or time runs out."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} (log: tests/screenshots/server-*.log)")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def start_app(port: int, log_path: Path, extra_env: dict | None = None, args: tuple[str, ...] = (),
              env: dict | None = None) -> subprocess.Popen:
    """The app with the test zoo's environment plus `extra_env`, or exactly `env` when given (a test of the
    real loaders removes the test zoo's variables)."""
    env = env if env is not None else {**os.environ, **TEST_ENV, **(extra_env or {})}
    log = open(log_path, "w")
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--host", "127.0.0.1",
                             *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


@contextlib.contextmanager
def running_app(log_name: str, extra_env: dict | None = None, args: tuple[str, ...] = (), timeout: float = 120,
                env: dict | None = None):
    """`python app.py *args` (test zoo unless extra_env says otherwise, or exactly `env`) on a free loopback
    port: yields (url, process, log path); stops the server afterwards."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = SCREENSHOTS / f"{log_name}-{port}.log"
    proc = start_app(port, log_path, extra_env, args, env)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url, timeout, proc)
        yield url, proc, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_coroutine(coroutine):
    """asyncio.run(coroutine) on a thread of its own. The browser tests' session-wide Playwright (sync API) keeps an
    event loop running on the main thread for the rest of the session, and asyncio.run refuses to start inside one."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def wait_for_log(path: Path, text: str, timeout: float) -> None:
    """Wait until the app's log at `path` contains `text` (e.g. "warm-up:", the end of the warm-up)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if text in path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{text!r} not in {path} after {timeout} s")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def app_url(screenshots):
    """The app with the test zoo, on a free loopback port, for the whole test session."""
    with running_app("server") as (url, _, _):
        yield url


def launch_chromium(playwright, extra_args: list[str] | None = None):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + (extra_args or []))


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance):
    b = launch_chromium(playwright_instance)
    yield b
    b.close()


def _page(browser, url: str, locale: str):
    context = browser.new_context(locale=locale, viewport={"width": 1500, "height": 1100},
                                  extra_http_headers={"Accept-Language": locale})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.wait_for_selector("#app-header", timeout=60_000)
    return context, page


@pytest.fixture
def page_ko(browser, app_url):
    context, page = _page(browser, app_url, "ko-KR")
    yield page
    context.close()


@pytest.fixture
def page_en(browser, app_url):
    context, page = _page(browser, app_url, "en-US")
    yield page
    context.close()


def open_tab(page, tab_id: str) -> None:
    """Open the lesson tab whose panel has elem_id tab-<tab_id>: its button in the tab bar, or, when the
    titles do not fit the window, the same title in the tab bar's overflow menu."""
    # Gradio measures which titles fit only after the first layout: wait until the button is shown or the
    # overflow menu exists, so the choice below is made on the settled tab bar.
    page.wait_for_function(
        "(id) => { const shown = (el) => !!el && el.getClientRects().length > 0"
        " && getComputedStyle(el).visibility !== 'hidden';"
        " return shown(document.getElementById(`tab-${id}-button`))"
        " || shown(document.querySelector('.overflow-menu button')); }",
        arg=tab_id)
    button = page.locator(f"#tab-{tab_id}-button")
    if button.count() and button.first.is_visible():
        button.first.click()
    else:
        from core import text

        title_key = f"{tab_id}.title"
        page.locator(".overflow-menu button").first.click()
        importlib.import_module(f"tabs.{tab_id}.text")  # registers the lesson's words
        titles = [text.KO[title_key], text.EN[title_key]]
        page.locator(".overflow-dropdown button").filter(
            has_text=re.compile("|".join(re.escape(t) for t in titles))).first.click()
    page.wait_for_selector(f"#tab-{tab_id}", state="visible")


def read_note(page, tab_id: str) -> str:
    """The whole lesson note of a tab, as a student reads it: the first sentence, then the rest opened."""
    more = page.locator(f"#tab-{tab_id} .lesson-more").first
    if more.count():
        rest = page.locator(f"#tab-{tab_id} .lesson-rest").first
        if not (rest.count() and rest.is_visible()):
            more.locator("button").first.click()
            page.locator(f"#tab-{tab_id} .lesson-rest").first.wait_for(state="visible")
    return page.locator(f"#tab-{tab_id} .lesson-note").first.inner_text()


def wait_for_picture(page, selector: str, timeout: float = 60_000) -> None:
    """Wait until the output picture under `selector` is on screen as a student sees it: Gradio's <img> is
    lazy (loading="lazy"), so a picture below the fold is fetched, and gets a size, only once scrolled to."""
    img = page.locator(f"{selector} img").first
    img.wait_for(state="attached", timeout=timeout)
    img.scroll_into_view_if_needed(timeout=timeout)
    page.wait_for_function("(sel) => { const el = document.querySelector(sel + ' img');"
                           " return el && el.complete && el.naturalWidth > 0; }", arg=selector, timeout=timeout)


def shot(page, screenshots: Path, name: str) -> Path:
    path = screenshots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session")
def bus_image():
    """Ultralytics' sample photo of a bus, shipped inside the installed ultralytics package."""
    from PIL import Image

    # found without importing ultralytics: its first import must come after core.zoo.yolo's switches
    path = Path(importlib.util.find_spec("ultralytics").submodule_search_locations[0]) / "assets" / "bus.jpg"
    if not path.is_file():
        pytest.skip(f"{path} is not in this ultralytics install")
    return Image.open(path).convert("RGB")


from tests.hub_mirror import hub_mirror  # noqa: E402,F401  (the local Hugging Face Hub, a session fixture)


def build_lesson_tab(tab_module, settings=None):
    """A lesson's tab built alone, as app.py builds it: (the Blocks, its Page, the events it registered)."""
    import gradio as gr

    from core import events
    from core.page import Page
    from core.settings import Settings

    before = len(events.REGISTERED)
    with gr.Blocks() as demo:
        page = Page(settings or Settings(), demo)
        tab_module.build(page)
    return demo, page, events.REGISTERED[before:]
