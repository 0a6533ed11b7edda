"""The CNN feature-map lesson in real Chromium, in Korean and English: the worked example shown on open,
Korean class names, a click on a feature map, a chosen Grad-CAM class, the layer table, another model."""
from __future__ import annotations

import pytest

from tabs.cnn_features.text import TEXT  # noqa: F401  (registers the lesson's words)
from tabs.cnn_features.view import GRID_CELL, GRID_GAP, GRID_TITLE
from tests.conftest import open_tab, shot

pytestmark = pytest.mark.browser

TAB_ID = "cnn_features"
HANGUL = range(0xAC00, 0xD7A4)


def has_hangul(words: str) -> bool:
    return any(ord(ch) in HANGUL for ch in words)


def _open_with_worked_example(page, model_words: str) -> str:
    """Open the tab and, before any click, see the worked example (the cat): info, top-5, Grad-CAM, maps."""
    open_tab(page, TAB_ID)
    page.wait_for_function(
        "(words) => document.querySelector('#cnn_features-info')?.innerText.includes(words)", arg=model_words,
        timeout=90_000)
    for selector in ("#cnn_features-grid img", "#cnn_features-cam img", "#cnn_features-zoom img",
                     "#cnn_features-top5 .js-plotly-plot"):
        page.wait_for_selector(selector, timeout=30_000)
    assert page.locator("#cnn_features-top5 .js-plotly-plot .bars path").count() >= 5
    return page.locator("#cnn_features-info").inner_text()


def _top5_labels(page) -> list[str]:
    return page.evaluate("() => Array.from(document.querySelectorAll('#cnn_features-top5 .ytick text'))"
                         ".map((t) => t.textContent)")


def test_worked_example_korean_names_map_click_and_class_ko(page_ko, screenshots):
    page = page_ko
    info = _open_with_worked_example(page, "사용 중인 모델")
    assert "ResNet18" in info and "layer2" in info and "layer4" in info
    labels = _top5_labels(page)
    assert len(labels) == 5 and all(has_hangul(label) and label.endswith(")") for label in labels), labels
    assert "자동: layer2" in page.locator("#cnn_features-layer input").input_value()
    shot(page, screenshots, "cnn_features_ko_open")
    # Click the third map of the grid (row 0, column 2): the enlarged view and the channel number follow.
    before = page.locator("#cnn_features-zoom img").get_attribute("src")
    channel_before = page.locator("#cnn_features-channel input").input_value()
    grid_img = page.locator("#cnn_features-grid img")
    box = grid_img.bounding_box()
    natural = page.evaluate("() => { const i = document.querySelector('#cnn_features-grid img');"
                            " return [i.naturalWidth, i.naturalHeight]; }")
    scale = box["width"] / natural[0]
    grid_img.click(position={"x": (2 * (GRID_CELL + GRID_GAP) + GRID_CELL / 2) * scale,
                             "y": (GRID_TITLE + GRID_CELL / 2) * scale})
    page.wait_for_function(
        "(before) => document.querySelector('#cnn_features-zoom img')?.getAttribute('src') !== before", arg=before,
        timeout=30_000)
    assert page.locator("#cnn_features-channel input").input_value() != channel_before
    # An example photo (the coffee, second): it fills the photo, and the new photo is analysed (computed at warm-up).
    grid_before = page.locator("#cnn_features-grid img").get_attribute("src")
    cam_before = page.locator("#cnn_features-cam img").get_attribute("src")
    page.locator(f"#tab-{TAB_ID}").locator(
        ".gallery button, button.gallery-item, [data-testid='examples'] button, table.examples-table tr").nth(1).click()
    page.wait_for_function(
        "(before) => document.querySelector('#cnn_features-grid img')?.getAttribute('src') !== before",
        arg=grid_before, timeout=60_000)
    page.wait_for_function(  # Grad-CAM of the new photo (the test zoo's random weights may keep the same top-5)
        "(before) => document.querySelector('#cnn_features-cam img')?.getAttribute('src') !== before",
        arg=cam_before, timeout=30_000)
    # Grad-CAM for a chosen class: the 1000 Korean names came with the page; picking one re-runs the analysis.
    picker = page.locator("#cnn_features-cam-class input")
    picker.click()
    picker.press("Control+a")
    picker.press("Backspace")
    picker.press_sequentially("tabby", delay=30)
    page.get_by_role("option", name="281: 얼룩무늬 고양이(태비) (tabby)").click()
    page.wait_for_function(
        "() => document.querySelector('#cnn_features-info')?.innerText.includes('얼룩무늬 고양이(태비) (tabby) (281)')",
        timeout=60_000)
    shot(page, screenshots, "cnn_features_ko_tabby")


def test_worked_example_layer_table_and_another_model_en(page_en, screenshots):
    page = page_en
    info = _open_with_worked_example(page, "Model in use")
    assert "layer2" in info and not has_hangul(info)
    assert not any(has_hangul(label) for label in _top5_labels(page))
    shot(page, screenshots, "cnn_features_en_open")
    page.locator(f"#tab-{TAB_ID}").get_by_text("Layer table (model complexity)").click()
    table = page.locator("#cnn_features-table")
    table.get_by_text("layer1.0.conv1").first.wait_for(timeout=30_000)
    assert table.get_by_text("3x3 / 1x1").count() > 0 and table.get_by_text("parameters").count() > 0
    shot(page, screenshots, "cnn_features_en")
    # Another model: its own layers (timm's EfficientNet-Lite0 names its stages blocks.N) and a new analysis.
    page.locator("#cnn_features-model input").click()
    page.get_by_role("option", name="EfficientNet-Lite0").click()
    page.wait_for_function(
        "() => document.querySelector('#cnn_features-layer input')?.value?.includes('blocks.')", timeout=90_000)
    page.wait_for_function(
        "() => document.querySelector('#cnn_features-info')?.innerText.includes('EfficientNet-Lite0')"
        " && document.querySelector('#cnn_features-info')?.innerText.includes('blocks.')", timeout=90_000)
    table.get_by_text("conv_stem").first.wait_for(timeout=30_000)
    shot(page, screenshots, "cnn_features_en_lite0")
