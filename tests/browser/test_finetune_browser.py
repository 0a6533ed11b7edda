"""The fine-tuning tab in a real browser: train a short run, watch the curves, read the confusion matrix, predict."""
from __future__ import annotations

import pytest

import tabs.finetune  # noqa: F401  (registers the tab's strings, which open_tab looks up)
from tests.conftest import open_tab, shot

TAB_ID = "finetune"


def _set_slider(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type='number']")
    box.fill(str(value))
    box.press("Enter")


def _train_short_run(page, per_class: int = 8):
    open_tab(page, TAB_ID)
    # The freeze info arrives once the page load has loaded the model.
    page.wait_for_function(
        "() => (document.querySelector('#finetune-freeze-info')?.innerText || '').includes('efficientnet_lite0')",
        timeout=90_000)
    _set_slider(page, "finetune-per-class", per_class)
    _set_slider(page, "finetune-patience", 2)
    page.locator("#finetune-train").click()
    # Curves appear while the run is going, then the final status with the stop reason.
    page.wait_for_selector("#finetune-curves .js-plotly-plot", timeout=180_000)
    page.wait_for_function(
        "() => (document.querySelector('#finetune-status')?.innerText || '').includes('✅')", timeout=240_000)
    page.wait_for_selector("#finetune-confusion .js-plotly-plot", timeout=30_000)


@pytest.mark.browser
def test_short_run_streams_curves_and_predicts_ko(page_ko, screenshots):
    page = page_ko
    _train_short_run(page)
    status = page.locator("#finetune-status").inner_text()
    assert "학습 파라미터" in status and "검증" in status and "멈춤" in status
    curves = page.locator("#finetune-curves")
    assert curves.locator(".scatterlayer .trace").count() >= 4  # train/val loss and accuracy
    assert "최고" in curves.inner_text() and "멈춤" in curves.inner_text()
    assert "검증 정확도" in page.locator("#finetune-confusion").inner_text()
    # A second run (patience 1) keeps the first one on the chart for comparison.
    _set_slider(page, "finetune-patience", 1)
    page.locator("#finetune-train").click()
    page.wait_for_function(
        "() => (document.querySelector('#finetune-curves')?.innerText || '').includes('#2')", timeout=240_000)
    page.wait_for_function(
        "() => (document.querySelector('#finetune-status')?.innerText || '').includes('✅')", timeout=240_000)
    assert "#1" in curves.inner_text()
    page.locator("#finetune-new-shape").click()
    page.wait_for_selector("#finetune-predict-image img", timeout=30_000)
    page.locator("#finetune-predict").click()
    page.wait_for_function(
        "() => /원|사각형|삼각형/.test(document.querySelector('#finetune-probs')?.innerText || '')", timeout=60_000)
    curves.scroll_into_view_if_needed()
    shot(page, screenshots, "finetune_ko")
    curves.screenshot(path=str(screenshots / "finetune_curves_ko.png"))


@pytest.mark.browser
def test_english_labels_and_split_counts(page_en, screenshots):
    page = page_en
    open_tab(page, TAB_ID)
    tab = page.locator(f"#tab-{TAB_ID}")
    assert tab.get_by_text("① Take a pretrained model").count() == 1
    assert tab.get_by_text("② Freeze layers").count() == 1
    _set_slider(page, "finetune-per-class", 8)
    page.locator("#finetune-preview").click()
    page.wait_for_function(
        "() => (document.querySelector('#finetune-split')?.innerText || '').includes('total')", timeout=60_000)
    split = page.locator("#finetune-split").inner_text()
    assert "circle" in split and "triangle" in split and "18" in split and "6" in split
    assert page.locator("#finetune-gallery img").count() >= 9
    _train_short_run(page)
    assert "trainable parameters" in page.locator("#finetune-status").inner_text()
    assert "Validation accuracy" in page.locator("#finetune-confusion").inner_text()
    shot(page, screenshots, "finetune_en")
    page.locator("#finetune-curves").screenshot(path=str(screenshots / "finetune_curves_en.png"))
    # My own photos, none given yet: a clear message instead of a run.
    page.locator("#finetune-source").get_by_text("My photos / webcam").click()
    page.locator("#finetune-name-0 textarea, #finetune-name-0 input").first.fill("my cup")
    page.locator("#finetune-train").click()
    page.wait_for_function(
        "() => (document.querySelector('#finetune-status')?.innerText || '').includes(\"Class 'my cup' has no images\")",
        timeout=60_000)
    # The warning leaves the earlier run's curves on screen.
    assert page.locator("#finetune-curves .scatterlayer .trace").count() >= 4
    shot(page, screenshots, "finetune_en_no_images")
    # Stop: a longer run ends within a batch when the Stop button is pressed.
    page.locator("#finetune-source").get_by_text("Built-in shape set").click()
    _set_slider(page, "finetune-per-class", 40)
    page.locator("#finetune-train").click()
    page.wait_for_function(
        "() => /⏳|epoch/.test(document.querySelector('#finetune-status')?.innerText || '')", timeout=60_000)
    page.locator("#finetune-stop").click()
    page.wait_for_function(
        "() => /Stopped\\.|stopped with the Stop button/.test(document.querySelector('#finetune-status')?.innerText || '')",
        timeout=60_000)
