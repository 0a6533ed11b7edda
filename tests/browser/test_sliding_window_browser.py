"""The sliding-window animator in real Chromium, in Korean and English: compute, play in the browser, errors."""
from __future__ import annotations

import pytest

from core import text
from tabs.sliding_window.text import TEXT  # noqa: F401  (registers the lesson's words)
from tests.conftest import open_tab, shot

pytestmark = pytest.mark.browser

TAB = "sliding_window"
PLOT = "#sw-plot .js-plotly-plot"


def _frames_ready(page, previous_token: str | None = None) -> str:
    """Wait until the watcher has handed the current figure's frames to Plotly; return its token."""
    page.wait_for_function(
        """([sel, prev]) => { const gd = document.querySelector(sel);
             return gd && gd.layout && gd.layout.meta && gd.dataset.swToken === gd.layout.meta.sw_token
                    && gd.dataset.swToken !== prev
                    && gd._transitionData._frames.length === gd.layout.meta.sw_frames.length; }""",
        arg=[PLOT, previous_token or ""], timeout=60_000)
    return page.evaluate(f"() => document.querySelector('{PLOT}').dataset.swToken")


def _frame_count(page) -> int:
    return page.evaluate(f"() => document.querySelector('{PLOT}')._transitionData._frames.length")


def _slider_position(page) -> int:
    return page.evaluate(f"() => document.querySelector('{PLOT}')._fullLayout.sliders[0].active")


def _set_number(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def _settled(page, token: str) -> str:
    """Wait for the figure that the last control change produced (each change recomputes at once)."""
    _frames_ready(page, token)
    page.wait_for_timeout(1500)  # a later change may still be on its way
    return _frames_ready(page, "")  # the latest figure, with its frames in place


def _play_and_check_it_moves(page) -> None:
    assert _slider_position(page) == 0
    page.locator(f"{PLOT} .updatemenu-button").first.click()  # ▶ Play: runs in the browser, no server call
    page.wait_for_function(f"() => document.querySelector('{PLOT}')._fullLayout.sliders[0].active >= 2",
                           timeout=20_000)
    page.locator(f"{PLOT} .updatemenu-button").nth(2).click()  # ■ Pause
    paused_at = _slider_position(page)
    page.wait_for_timeout(1500)
    assert _slider_position(page) == paused_at  # pause really stops it


def _open(page, table: dict) -> str:
    """Open the tab after checking its title in the page's language; return the first figure's token."""
    tab_button = page.locator(f"button[role='tab'][aria-controls='tab-{TAB}']").or_(page.locator(f"#tab-{TAB}-button"))
    assert tab_button.first.inner_text().strip() == table["sliding_window.title"]
    open_tab(page, TAB)
    return _frames_ready(page)


def test_korean_compute_play_and_refuse(page_ko, screenshots):
    page = page_ko
    token = _open(page, text.KO)
    # the worked example is there as soon as the tab opens, before any click
    assert _frame_count(page) == 9  # 5x5 input, 3x3 kernel, stride 1: 3x3 positions
    assert "출력 크기 공식" in page.inner_text("#sw-explain")
    assert page.locator("#sw-gallery img").count() == 1  # the photo panel: one picture of five
    shot(page, screenshots, "sliding_window_ko_opened")
    # every event joins the queue with its own request (the answer may come on an event stream already open)
    with page.expect_response(lambda r: "/gradio_api/queue/join" in r.url):
        page.locator("#sw-run").click()  # the public conv_steps event: the same setting, answered from the cache
    page.wait_for_timeout(500)
    assert _frames_ready(page) == token  # the very same figure (and its frames) as the worked example
    assert _frame_count(page) == 9

    _set_number(page, "sw-stride", 2)  # the notes' example: stride 2 gives 2x2
    token = _settled(page, token)
    assert _frame_count(page) == 4
    explain = page.inner_text("#sw-explain")
    assert "2×2" in explain and "교차상관" in explain
    assert "창 위치" in page.inner_text("#sw-plot")
    shot(page, screenshots, "sliding_window_ko_stride2")
    _play_and_check_it_moves(page)
    shot(page, screenshots, "sliding_window_ko_played")
    # stepping one position at a time, also in the browser only
    page.locator("#sw-step-first").click()
    page.wait_for_function(f"() => document.querySelector('{PLOT}')._fullLayout.sliders[0].active === 0")
    for expected, button in ((1, "next"), (2, "next"), (1, "back"), (3, "last"), (3, "next")):
        page.locator(f"#sw-step-{button}").click()
        page.wait_for_function(f"() => document.querySelector('{PLOT}')._fullLayout.sliders[0].active === {expected}",
                               timeout=10_000)
    assert "(1,1)" in page.inner_text("#sw-plot")  # the last of the 2x2 positions

    # an impossible combination: max pooling with padding 3 on a 3x3 window. Moving the control warns,
    # explains beside the plot, and keeps the last animation on screen.
    page.locator("#sw-operation label").nth(1).click()
    token = _frames_ready(page, token)
    _set_number(page, "sw-padding", 3)
    toast = page.locator(".toast-body", has_text="풀링에서는 패딩").first
    toast.wait_for(timeout=30_000)
    assert "pooling" not in toast.inner_text()  # one language per message
    page.wait_for_function("() => document.querySelector('#sw-explain').innerText.includes('계산할 수 없는 설정')",
                           timeout=30_000)
    assert _frame_count(page) == 4 and page.locator(PLOT).is_visible()
    shot(page, screenshots, "sliding_window_ko_refused")


def test_english_big_grid_plays(page_en, screenshots):
    page = page_en
    token = _open(page, text.EN)
    assert "Output-size formula" in page.inner_text("#sw-explain")
    for elem_id, value in (("sw-height", 12), ("sw-width", 14), ("sw-padding", 1)):
        _set_number(page, elem_id, value)
    page.locator("#sw-kernel input").click()
    page.get_by_role("option", name="Sobel x (vertical edges)").click()
    token = _settled(page, token)
    assert _frame_count(page) == 12 * 14
    explain = page.inner_text("#sw-explain")
    assert "Height" in explain and "= 12" in explain and "= 14" in explain
    assert "[-1, 0, 1] [-2, 0, 2] [-1, 0, 1]" in explain
    assert page.locator("#sw-gallery img").count() == 1  # the photo panel: one picture of five
    _play_and_check_it_moves(page)
    page.locator("#sw-plot").screenshot(path=str(screenshots / "sliding_window_en_plot.png"))
    shot(page, screenshots, "sliding_window_en_sobel")
