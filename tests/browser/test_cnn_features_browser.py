"""The CNN feature-map tab in a real browser: run an example, click a feature map, look at the page."""
from __future__ import annotations

import pytest

from tabs.cnn_features import GRID_CELL, GRID_GAP, GRID_TITLE
from tests.conftest import open_tab, shot

TAB_ID = "cnn_features"


def _run_example(page):
    open_tab(page, TAB_ID)
    tab = page.locator(f"#tab-{TAB_ID}")
    # The layer list of the starting model arrives when the page loads.
    page.wait_for_function(
        "() => document.querySelector('#cnn_features-layer input')?.value?.length > 0", timeout=60_000)
    tab.locator(".gallery button, button.gallery-item, [data-testid='examples'] button, table.examples-table tr").first.click()
    page.wait_for_selector("#cnn_features-grid img", timeout=90_000)
    page.wait_for_selector("#cnn_features-cam img", timeout=30_000)
    page.wait_for_selector("#cnn_features-top5 .js-plotly-plot", timeout=30_000)
    return tab


@pytest.mark.browser
def test_example_shows_maps_top5_and_grad_cam_ko(page_ko, screenshots):
    page = page_ko
    _run_example(page)
    info = page.locator("#cnn_features-info").inner_text()
    assert "사용 중인 모델" in info and "ResNet18" in info and "layer2" in info
    assert page.locator("#cnn_features-top5 .js-plotly-plot .bars path").count() >= 5
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
    channel_after = page.locator("#cnn_features-channel input").input_value()
    assert channel_after != channel_before
    shot(page, screenshots, "cnn_features_ko")
    # Grad-CAM for a chosen class: the 1000 names arrive with the page; picking one re-runs the analysis.
    picker = page.locator("#cnn_features-cam-class input")
    picker.click()
    picker.press("Control+a")
    picker.press("Backspace")
    picker.press_sequentially("tabby", delay=30)
    page.get_by_role("option", name="281: tabby").click()
    page.wait_for_function("() => document.querySelector('#cnn_features-info')?.innerText.includes('tabby')",
                           timeout=60_000)
    shot(page, screenshots, "cnn_features_ko_tabby")


@pytest.mark.browser
def test_layer_table_and_english_labels(page_en, screenshots):
    page = page_en
    tab = _run_example(page)
    assert "Model in use" in page.locator("#cnn_features-info").inner_text()
    tab.get_by_text("Layer table (model complexity)").click()
    table = page.locator("#cnn_features-table")
    table.get_by_text("layer1.0.conv1").first.wait_for(timeout=30_000)
    assert table.get_by_text("3x3 / 1x1").count() > 0
    shot(page, screenshots, "cnn_features_en")
    # Another model: its own layers (timm's EfficientNet-Lite0 names its stages blocks.N) and a new analysis.
    page.locator("#cnn_features-model input").click()
    page.get_by_role("option", name="EfficientNet-Lite0").click()
    page.wait_for_function(
        "() => document.querySelector('#cnn_features-layer input')?.value?.startsWith('blocks.')", timeout=90_000)
    page.wait_for_function(
        "() => document.querySelector('#cnn_features-info')?.innerText.includes('EfficientNet-Lite0')"
        " && document.querySelector('#cnn_features-info')?.innerText.includes('blocks.')", timeout=90_000)
    table.get_by_text("conv_stem").first.wait_for(timeout=30_000)
    shot(page, screenshots, "cnn_features_en_lite0")
