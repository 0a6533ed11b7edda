"""The precision tab in real Chromium: the bit view, a bad number, the timed comparison and the device panel."""
from __future__ import annotations

import pytest

from tabs import precision  # registers the tab's strings in i18n.KO / i18n.EN
from tests.conftest import open_tab, shot

pytestmark = pytest.mark.browser

TAB_ID = "precision"


def _inner_tab(page, elem_id: str) -> None:
    page.locator(f"button[role='tab'][aria-controls='{elem_id}']").or_(page.locator(f"#{elem_id}-button")).first.click()
    page.wait_for_selector(f"#{elem_id}", state="visible")


def _show_bits(page, text: str) -> None:
    box = page.locator("#precision-number textarea, #precision-number input").first
    box.fill(text)
    page.locator("#precision-show").click()


def _run_compare(page, budget: int) -> None:
    _inner_tab(page, "precision-compare")
    page.locator("#precision-batch input[type='number']").fill("2")
    page.locator("#precision-budget input[type='number']").fill(str(budget))
    page.locator("#precision-budget input[type='number']").press("Enter")
    page.locator("#precision-run").click()
    # The notes are written when the run ends; the chart and the table come with them.
    page.locator("#precision-notes").get_by_text("10,000", exact=False).first.wait_for(timeout=180_000)
    page.wait_for_selector("#precision-chart .js-plotly-plot", timeout=30_000)
    page.locator("#precision-table").get_by_text("FP32", exact=True).first.wait_for(timeout=30_000)


def test_bits_and_comparison_in_korean(page_ko, screenshots):
    page = page_ko
    open_tab(page, TAB_ID)
    _show_bits(page, "500")
    bits = page.locator("#precision-bits")
    bits.get_by_text("448", exact=False).first.wait_for(timeout=60_000)
    text = bits.inner_text()
    assert "FP8 E4M3" in text and "포화" in text and "실제로 저장된 값" in text
    page.wait_for_selector("#precision-spacing .js-plotly-plot", timeout=30_000)
    shot(page, screenshots, "precision_bits_ko")

    _show_bits(page, "abc")
    page.get_by_text("숫자가 아닙니다").first.wait_for(timeout=30_000)
    _show_bits(page, "1e400")
    page.get_by_text("float64").first.wait_for(timeout=30_000)

    _run_compare(page, 10)
    table = page.locator("#precision-table").inner_text()
    assert "FP32" in table and "측정함" in table
    assert "여기서 안 됨" in table  # FP8 on the CPU: not supported here, with its reason
    notes = page.locator("#precision-notes").inner_text()
    assert "10,000" in notes and "CPU" in notes
    shot(page, screenshots, "precision_compare_ko")


def test_bits_comparison_and_devices_in_english(page_en, screenshots):
    page = page_en
    open_tab(page, TAB_ID)
    _show_bits(page, "0.1")
    page.locator("#precision-bits").get_by_text("0.10009765625").first.wait_for(timeout=60_000)
    assert "Value actually stored" in page.locator("#precision-bits").inner_text()
    shot(page, screenshots, "precision_bits_en")
    _run_compare(page, 10)
    assert "not supported here" in page.locator("#precision-table").inner_text()
    assert "What the result" not in page.locator("#precision-notes").inner_text()  # notes are the result itself
    assert "10,000 images" in page.locator("#precision-notes").inner_text()
    shot(page, screenshots, "precision_compare_en")
    _inner_tab(page, "precision-device")
    panel = page.locator("#precision-device-panel").inner_text()
    assert "CPU" in panel and "Cloud GPU" in panel
    shot(page, screenshots, "precision_device_en")
