"""The fine-tuning tab in a real browser: the worked example as it opens, a short run with its curves,
the confusion matrix, Stop, and a prediction beside the pretrained model's own ImageNet answer."""
from __future__ import annotations

import re

import pytest

from tests.conftest import open_tab, shot, wait_for_picture

TAB_ID = "finetune"
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _text(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id}").inner_text()


def _set_slider(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type='number']")
    box.fill(str(value))
    box.press("Enter")


def _wait_text(page, elem_id: str, pattern: str, timeout: int = 60_000) -> None:
    page.wait_for_function(
        "([id, pattern]) => new RegExp(pattern).test(document.querySelector('#' + id)?.innerText || '')",
        arg=[elem_id, pattern], timeout=timeout)


def _worked_example(page, total: str, shape: str) -> None:
    """Right after the tab opens, before any click: the shapes previewed and split, the freeze summary."""
    _wait_text(page, "finetune-split", total, timeout=30_000)
    _wait_text(page, "finetune-freeze-info", "efficientnet_lite0", timeout=30_000)
    assert page.locator("#finetune-gallery img").count() >= 12  # 4 pictures of each of the 3 shapes
    assert shape in _text(page, "finetune-split") and "135" in _text(page, "finetune-split")
    assert "1280 → 3" in _text(page, "finetune-head-info")


def _train_short_run(page, per_class: int = 8) -> None:
    _set_slider(page, "finetune-per-class", per_class)
    _set_slider(page, "finetune-patience", 2)
    page.locator("#finetune-train").click()
    # Curves appear while the run is going, then the final status with the stop reason.
    page.wait_for_selector("#finetune-curves .js-plotly-plot", timeout=180_000)
    _wait_text(page, "finetune-status", "✅", timeout=240_000)
    page.wait_for_selector("#finetune-confusion .js-plotly-plot", timeout=30_000)


@pytest.mark.browser
def test_korean_page_opens_with_the_example_trains_and_predicts(page_ko, screenshots):
    page = page_ko
    open_tab(page, TAB_ID)
    _worked_example(page, "합계", "삼각형")
    assert "학습되는 파라미터" in _text(page, "finetune-freeze-info")
    page.locator("#finetune-gallery").scroll_into_view_if_needed()
    shot(page, screenshots, "finetune_open_ko")
    _train_short_run(page)
    status = _text(page, "finetune-status")
    assert "학습 파라미터" in status and "검증" in status and "멈춤" in status
    curves = page.locator("#finetune-curves")
    assert curves.locator(".scatterlayer .trace").count() >= 4  # train/val loss and accuracy
    assert "최고" in curves.inner_text() and "멈춤" in curves.inner_text()
    assert "검증 정확도" in _text(page, "finetune-confusion")
    # A second run (patience 1) keeps the first one on the chart for comparison.
    _set_slider(page, "finetune-patience", 1)
    page.locator("#finetune-train").click()
    _wait_text(page, "finetune-curves", "#2", timeout=240_000)
    _wait_text(page, "finetune-status", "✅", timeout=240_000)
    assert "#1" in curves.inner_text()
    page.locator("#finetune-new-shape").click()
    wait_for_picture(page, "#finetune-predict-image", timeout=30_000)
    page.locator("#finetune-predict").click()
    _wait_text(page, "finetune-probs", "원|사각형|삼각형")
    # The pretrained model's own answer: ImageNet classes, Korean name with the English one beside it.
    page.wait_for_selector("#finetune-imagenet .js-plotly-plot", timeout=30_000)
    imagenet = _text(page, "finetune-imagenet")
    assert re.search(r"[\uac00-\ud7a3][^\n]*\([a-z][^\n]*\)", imagenet), imagenet
    curves.scroll_into_view_if_needed()
    shot(page, screenshots, "finetune_ko")
    curves.screenshot(path=str(screenshots / "finetune_curves_ko.png"))
    page.locator("#finetune-probs").scroll_into_view_if_needed()
    shot(page, screenshots, "finetune_predict_ko")


@pytest.mark.browser
def test_english_page_example_split_no_images_message_and_stop(page_en, screenshots):
    page = page_en
    open_tab(page, TAB_ID)
    _worked_example(page, "total", "triangle")
    tab = page.locator(f"#tab-{TAB_ID}")
    assert tab.get_by_text("① Take a pretrained model").count() == 1
    assert tab.get_by_text("② Freeze layers").count() == 1
    assert not HANGUL.search(_text(page, "finetune-split") + _text(page, "finetune-freeze-info"))
    shot(page, screenshots, "finetune_open_en")
    _set_slider(page, "finetune-per-class", 8)
    page.locator("#finetune-preview").click()
    _wait_text(page, "finetune-split", r"\*?\*?total\*?\*?[^\n]*18")
    split = _text(page, "finetune-split")
    assert "circle" in split and "triangle" in split and "18" in split and "6" in split
    _train_short_run(page)
    assert "trainable parameters" in _text(page, "finetune-status")
    assert "Validation accuracy" in _text(page, "finetune-confusion")
    assert not HANGUL.search(_text(page, "finetune-status") + page.locator("#finetune-curves").inner_text())
    shot(page, screenshots, "finetune_en")
    page.locator("#finetune-curves").screenshot(path=str(screenshots / "finetune_curves_en.png"))
    # My own photos, none given yet: a clear message instead of a run, in English only.
    page.locator("#finetune-source").get_by_text("My photos / webcam").click()
    page.locator("#finetune-name-0 textarea, #finetune-name-0 input").first.fill("my cup")
    page.locator("#finetune-train").click()
    _wait_text(page, "finetune-status", "Class 'my cup' has no images")
    assert not HANGUL.search(_text(page, "finetune-status"))
    # The warning leaves the earlier run's curves on screen.
    assert page.locator("#finetune-curves .scatterlayer .trace").count() >= 4
    shot(page, screenshots, "finetune_en_no_images")
    # Stop: a longer run ends within a batch when the Stop button is pressed.
    page.locator("#finetune-source").get_by_text("Built-in shape set").click()
    _set_slider(page, "finetune-per-class", 40)
    _set_slider(page, "finetune-patience", 20)
    page.locator("#finetune-train").click()
    _wait_text(page, "finetune-status", "⏳|epoch")
    page.locator("#finetune-stop").click()
    _wait_text(page, "finetune-status", r"Stopped\.|stopped with the Stop button")
