"""The precision tab in real Chromium, in both languages: the worked example (0.1) on opening, an example
click, bad numbers, the timed comparison and the device panel."""
from __future__ import annotations

import re

import pytest

from tests.conftest import open_tab, shot

pytestmark = pytest.mark.browser

TAB_ID = "precision"
HANGUL = re.compile("[\uac00-\ud7a3]")


def _inner_tab(page, elem_id: str) -> None:
    page.locator(f"button[role='tab'][aria-controls='{elem_id}']").or_(page.locator(f"#{elem_id}-button")).first.click()
    page.wait_for_selector(f"#{elem_id}", state="visible")


def _show_bits(page, typed: str) -> None:
    page.locator("#precision-number textarea, #precision-number input").first.fill(typed)
    page.locator("#precision-show").click()


def _worked_example_is_there(page, header: str) -> str:
    """Right after the tab opens, before any click: 0.1 in every format, and its gap chart."""
    bits = page.locator("#precision-bits")
    bits.get_by_text("0.10009765625", exact=False).first.wait_for(timeout=60_000)  # BF16's 0.1
    page.wait_for_selector("#precision-spacing .js-plotly-plot", timeout=30_000)
    shown = bits.inner_text()
    assert header in shown and "0.10000000149011612" in shown and "FP8 E5M2" in shown
    return shown


def _run_compare(page, budget: int, done_words: str) -> None:
    _inner_tab(page, "precision-compare")
    page.locator("#precision-batch input[type='number']").fill("2")
    page.locator("#precision-budget input[type='number']").fill(str(budget))
    page.locator("#precision-budget input[type='number']").press("Enter")
    page.locator("#precision-run").click()
    # The notes are written when the run ends; the chart and the table come with them.
    page.locator("#precision-notes").get_by_text(done_words, exact=False).first.wait_for(timeout=240_000)
    page.wait_for_selector("#precision-chart .js-plotly-plot", timeout=30_000)
    page.locator("#precision-table").get_by_text("FP32", exact=True).first.wait_for(timeout=30_000)


def test_bits_and_comparison_in_korean(page_ko, screenshots):
    page = page_ko
    open_tab(page, TAB_ID)
    shown = _worked_example_is_there(page, "실제로 저장된 값")
    assert "가장 가까운 수로 반올림" in shown
    shot(page, screenshots, "precision_open_ko")

    page.locator("#precision-examples").get_by_text("500", exact=True).first.click()  # an example: fills and shows
    page.locator("#precision-bits").get_by_text("0x43FA0000", exact=False).first.wait_for(timeout=60_000)  # FP32 500
    assert page.locator("#precision-number textarea, #precision-number input").first.input_value() == "500"
    shown = page.locator("#precision-bits").inner_text()
    assert "넘침: 무한대가 없는 형식이라 이 PyTorch 는 ±448 로 포화" in shown
    shot(page, screenshots, "precision_bits_ko")

    _show_bits(page, "abc")
    page.get_by_text("숫자가 아닙니다").first.wait_for(timeout=30_000)
    assert not page.get_by_text("is not a number").count()  # one language per message
    _show_bits(page, "1e400")
    page.get_by_text("float64").first.wait_for(timeout=30_000)

    _run_compare(page, 10, "CPU 의 FP32 출력과 비교했습니다")
    table = page.locator("#precision-table").inner_text()
    assert "FP32" in table and "장치" in table and "Device" not in table
    notes = page.locator("#precision-notes").inner_text()
    assert "CPU" in notes and "스레드" in notes and "예산 10초" in notes
    if "측정함" in table and "CNN" in table:  # a CNN row measured within 10 s: its time for 10,000 images
        assert "1만장" in notes
    shot(page, screenshots, "precision_compare_ko")


def test_bits_comparison_and_devices_in_english(page_en, screenshots):
    page = page_en
    open_tab(page, TAB_ID)
    shown = _worked_example_is_there(page, "Value actually stored")
    assert not HANGUL.search(shown)
    shot(page, screenshots, "precision_open_en")
    _show_bits(page, "70000")
    page.locator("#precision-bits").get_by_text("overflow: beyond the largest value 65504", exact=False).first.wait_for(
        timeout=60_000)
    shot(page, screenshots, "precision_bits_en")

    _run_compare(page, 10, "against FP32 on the CPU")
    table = page.locator("#precision-table").inner_text()
    assert "Device" in table and not HANGUL.search(table)
    notes = page.locator("#precision-notes").inner_text()
    assert "What the result" not in notes and not HANGUL.search(notes)  # the notes are the result itself
    shot(page, screenshots, "precision_compare_en")

    _inner_tab(page, "precision-device")
    panel = page.locator("#precision-device-panel")
    panel.get_by_text("Cloud GPU", exact=False).first.wait_for(timeout=30_000)
    assert "CPU" in panel.inner_text() and "PyTorch" in panel.inner_text() and not HANGUL.search(panel.inner_text())
    shot(page, screenshots, "precision_device_en")
