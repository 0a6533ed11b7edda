"""ViT tab in real Chromium: run an example photo, click a patch, see where it attends (Korean and English)."""
from __future__ import annotations

import pytest

from core import i18n
from tabs import vit_attention  # noqa: F401  (registers the tab's strings)
from tests.conftest import open_tab, shot

pytestmark = pytest.mark.browser

TAB = "vit_attention"
ROWS = COLS = 14  # the test zoo's ViTs: 224 px input, 16 px patches


def _click_patch(page, selector: str, row: int, col: int) -> None:
    """Click the centre of patch (row, col) on a displayed picture, allowing for object-fit letterboxing."""
    img = page.locator(f"{selector} img").first
    img.scroll_into_view_if_needed()
    box = img.evaluate("""el => {
        const r = el.getBoundingClientRect();
        const scale = Math.min(r.width / el.naturalWidth, r.height / el.naturalHeight);
        const w = el.naturalWidth * scale, h = el.naturalHeight * scale;
        return {x: r.left + (r.width - w) / 2, y: r.top + (r.height - h) / 2, w: w, h: h};
    }""")
    page.mouse.click(box["x"] + box["w"] * (col + 0.5) / COLS, box["y"] + box["h"] * (row + 0.5) / ROWS)


def _patch_value(page) -> int:
    return int(float(page.locator("#vit-patch input[type='number']").first.input_value()))


def _run_example(page, table) -> None:
    open_tab(page, TAB)
    tab = page.locator(f"#tab-{TAB}")
    assert table["vit_attention.run"] in tab.inner_text()
    examples = tab.locator(".gallery-item, tr.tr-body")
    examples.nth(1).click()  # cat.jpg (examples are sorted: astronaut, cat, coffee, rocket)
    page.wait_for_selector("#vit-input img", state="visible")
    page.locator("#vit-run").click()
    page.wait_for_selector("#vit-patches img", state="visible", timeout=120_000)
    page.wait_for_selector("#vit-rollout img", state="visible", timeout=120_000)
    page.wait_for_function("document.querySelector('#vit-top5') && "
                           "document.querySelector('#vit-top5').innerText.includes('%')", timeout=120_000)


@pytest.mark.parametrize("fixture, lang", [("page_ko", "ko"), ("page_en", "en")])
def test_run_example_and_click_a_patch(request, fixture, lang, screenshots):
    page = request.getfixturevalue(fixture)
    table = i18n.KO if lang == "ko" else i18n.EN
    _run_example(page, table)
    info = page.locator("#vit-info").inner_text()
    assert "196" in info and "197" in info  # 14x14 patches, plus [CLS]
    assert ("패치" in info) == (lang == "ko")
    assert _patch_value(page) == 7 * COLS + 7  # the middle patch is chosen first

    before = page.locator("#vit-patch-attn img").first.get_attribute("src")
    _click_patch(page, "#vit-patches", 2, 3)
    page.wait_for_function("document.querySelector(\"#vit-patch input[type='number']\").value == '31'",
                           timeout=60_000)
    page.wait_for_function(f"document.querySelector('#vit-patch-attn img').src != {before!r}", timeout=60_000)

    # A click on the attention map itself moves the chosen patch too.
    _click_patch(page, "#vit-patch-attn", 10, 12)
    page.wait_for_function(f"document.querySelector(\"#vit-patch input[type='number']\").value == '{10 * COLS + 12}'",
                           timeout=60_000)

    # Another model: the same photo runs through it by itself (the test zoo's ViT-Base has 4 heads).
    page.locator("#vit-model input").click()
    page.get_by_role("option", name="ViT-Base (google/vit-base-patch16-224)").click()
    page.wait_for_function("document.querySelector('#vit-info').innerText.match(/× (4 heads|헤드 4개)/)",
                           timeout=120_000)

    page.wait_for_selector("#vit-gradcam img", state="visible", timeout=120_000)
    assert "%" in page.locator("#vit-cnn-top5").inner_text()
    assert page.locator(".toast-body.error").count() == 0
    page.locator("#vit-patches").scroll_into_view_if_needed()
    shot(page, screenshots, f"vit_attention_{lang}")
